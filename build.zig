// cdtls build script (zig 0.15.2, pinned in scripts/setup.sh; 0.14 works too,
// except for FreeBSD targets, whose libc zig ships from 0.15 on).
//
//   zig build -Dcrypto=bearssl|sodium|openssl  static + shared library, headers, cdtls.pc,
//                                               tools (cdtls-client, cdtls-server, cdtls-selftest)
//   zig build test -Dcrypto=...                 the Criterion suites
//   zig build test -Dsanitize=address,undefined the same suites built by the system clang
//                                               with ASan+UBSan (zig's own toolchain ships
//                                               no ASan runtime, so that build goes through
//                                               clang; see docs/building.md)
//   zig build demo -Dcrypto=...                 the provider self-test
//
// Cross-compiling (docs/portability.md):
//   zig build -Dtarget=aarch64-linux-musl -Dcrypto=sodium
//                  a non-native target compiles its provider from the upstream
//                  source in third_party/ (scripts/fetch-provider-src.sh gets it
//                  from Debian's source packages) and its tests with the
//                  Criterion shim (tests/shim/); -Dprovider-source and
//                  -Dtest-runner choose explicitly.
//   zig build test -Dtarget=s390x-linux-musl -fqemu    runs the tests under qemu-user
//   zig build test -Dtarget=x86_64-windows-gnu -fwine  runs the tests under wine64
//   zig build cross          the whole target x provider matrix, into zig-out/cross/
//   zig build firmware       the freestanding Cortex-M core (PSK, AES-CCM_8), zig-out/firmware/
//   zig build bench          the benchmarks, ReleaseFast, into zig-out/bench/ (scripts/bench.sh)
//
// As a zig package (docs/building.md, tests/zig-consumer/): artifact("cdtls")
// is the static library with its headers; the provider comes from the
// system, from -Dprovider-src-dir=PATH (an upstream source tree), or from
// the consumer's build graph (-Dprovider-source=external + useProvider()).
//
// Source lists are found by walking directories, so adding a .c file to a
// directory is all it takes to build it.
const std = @import("std");

// The managed ArrayList (allocator kept inside): std.ArrayList up to zig
// 0.14, std.array_list.Managed from 0.15 on. The build works with both.
fn List(comptime T: type) type {
    if (@hasDecl(std, "array_list") and @hasDecl(std.array_list, "Managed")) return std.array_list.Managed(T);
    return std.ArrayList(T);
}

const Crypto = enum { bearssl, sodium, openssl };

// The system library each provider links: -lbearssl, -lsodium, -lcrypto.
fn libName(c: Crypto) []const u8 {
    return switch (c) {
        .bearssl => "bearssl",
        .sodium => "sodium",
        .openssl => "crypto",
    };
}
// system: the installed library (-lbearssl...); source: its upstream C
// compiled here, from third_party/ or -Dprovider-src-dir; external: the
// consumer's own build graph supplies it through useProvider() (below).
const ProviderSource = enum { system, source, external };
const TestRunner = enum { criterion, shim };

// -Werror everywhere: the project rule is a warning-free build on gcc, clang and zig cc.
// The library and examples add -Wpedantic (no extensions in the core) and
// -Wmissing-prototypes; test files use Criterion, whose macros rely on GNU
// extensions and define functions without prototypes, so they get base_flags.
const base_flags = [_][]const u8{ "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes" };
const warn_flags = base_flags ++ [_][]const u8{ "-Wpedantic", "-Wmissing-prototypes" };
// The library's own objects: only declarations marked CDTLS_API
// (include/cdtls/export.h) are visible outside it; CDTLS_BUILDING tells
// export.h it is compiling the library (dllexport on Windows DLLs).
const lib_only_flags = [_][]const u8{ "-fvisibility=hidden", "-DCDTLS_BUILDING=1" };

// The core: pure C11, no OS or crypto-library headers (checked by scripts/check-core-purity.sh).
const core_dirs = [_][]const u8{ "src/common", "src/keys", "src/record", "src/handshake", "src/x509", "src/engine" };

// Test files that need a POSIX host (fork/exec of openssl and gnutls peers,
// pthreads): left out of Windows test binaries.
const posix_only_tests = [_][]const u8{ "tests/udp_driver.c", "tests/test_interop.c", "tests/test_interop_cert.c", "tests/test_interop_app.c", "tests/test_interop_pion.c", "tests/test_interop_pion4.c", "tests/test_interop_nss.c", "tests/interop_listener.c", "tests/test_sock_cid.c", "tests/test_workers.c", "tests/test_listener_scale.c", "tests/test_abuse_listener.c", "tests/test_sock.c", "tests/test_sock_resume.c", "tests/interop_peers.c", "tests/test_interop_wolfssl.c", "tests/test_interop_nss13.c", "tests/test_engine13_sock.c" };

// The matrix `zig build cross` builds (library, tools and tests for each
// provider that builds there). docs/portability.md has the results.
pub const cross_targets = [_][]const u8{
    "x86_64-linux-gnu",     "x86_64-linux-musl", "aarch64-linux-musl", "arm-linux-musleabihf",
    "riscv64-linux-musl",   "s390x-linux-musl",  "x86_64-windows-gnu", "aarch64-macos",
    "x86_64-macos",         "x86_64-freebsd",
};

// Where `zig build cross` also builds the tests: the targets
// scripts/cross-test.sh runs under an emulator by default, and one macOS (the
// tests' POSIX calls differ there: mkdtemp, sockets). The test binaries are
// most of the matrix's compile time (CI has 2 cores); the others' tests
// build with `zig build cross-<triple>`.
pub const cross_test_targets = [_][]const u8{ "aarch64-linux-musl", "s390x-linux-musl", "arm-linux-musleabihf", "x86_64-windows-gnu", "aarch64-macos" };

// The libcrypto provider without its default.c, for test binaries of the
// other providers that borrow from it.
const openssl_provider_files = [_][]const u8{ "providers/openssl/openssl_cipher.c", "providers/openssl/openssl_hash.c", "providers/openssl/openssl_pkey.c", "providers/openssl/openssl_provider.c" };

fn sortedPaths(b: *std.Build, names: *List([]const u8)) void {
    // Directory order is filesystem-dependent; sort for reproducible builds.
    std.mem.sort([]const u8, names.items, {}, struct {
        fn lt(_: void, a: []const u8, c: []const u8) bool {
            return std.mem.lessThan(u8, a, c);
        }
    }.lt);
    _ = b;
}

fn collectC(b: *std.Build, dir: []const u8, list: *List([]const u8)) void {
    var d = b.build_root.handle.openDir(dir, .{ .iterate = true }) catch return;
    defer d.close();
    var names = List([]const u8).init(b.allocator);
    var it = d.iterate();
    while (it.next() catch null) |entry| {
        if (entry.kind != .file) continue;
        if (!std.mem.endsWith(u8, entry.name, ".c")) continue;
        names.append(b.fmt("{s}/{s}", .{ dir, entry.name })) catch @panic("OOM");
    }
    sortedPaths(b, &names);
    list.appendSlice(names.items) catch @panic("OOM");
}

// Every .c file under root/dir, recursively (the upstream provider trees),
// as paths relative to root. root must be a path known when the build is
// configured (a source path, an absolute path, a dependency's path).
fn collectCRecursive(b: *std.Build, root: std.Build.LazyPath, dir: []const u8, list: *List([]const u8)) bool {
    const abs = b.pathJoin(&.{ root.getPath(b), dir });
    var d = std.fs.cwd().openDir(abs, .{ .iterate = true }) catch return false;
    defer d.close();
    var names = List([]const u8).init(b.allocator);
    var walker = d.walk(b.allocator) catch @panic("OOM");
    defer walker.deinit();
    while (walker.next() catch null) |entry| {
        if (entry.kind != .file) continue;
        if (!std.mem.endsWith(u8, entry.basename, ".c")) continue;
        names.append(b.fmt("{s}/{s}", .{ dir, entry.path })) catch @panic("OOM");
    }
    sortedPaths(b, &names);
    list.appendSlice(names.items) catch @panic("OOM");
    return names.items.len > 0;
}

// Whether the package holds this path: a copy fetched as a zig dependency
// has only what build.zig.zon's .paths lists (the library, not the tools,
// tests, benchmarks or firmware example), and builds what it has.
fn hasPath(b: *std.Build, rel: []const u8) bool {
    b.build_root.handle.access(rel, .{}) catch return false;
    return true;
}

fn isIn(name: []const u8, set: []const []const u8) bool {
    for (set) |s| if (std.mem.eql(u8, s, name)) return true;
    return false;
}

const Variant = struct {
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    crypto: Crypto,
    provider_source: ProviderSource,
    // -Dprovider-src-dir: the provider's upstream tree (BearSSL's root, with
    // src/ and inc/; libsodium's root, with src/libsodium/); null: third_party/.
    provider_dir: ?std.Build.LazyPath = null,
    runner: TestRunner,
    // Where artifacts go under the install prefix: null = bin/ and lib/ as
    // usual; "cross/<target>-<crypto>" for the matrix.
    subdir: ?[]const u8,
    // -Ddtls13=false: DTLS 1.3 compiled out (CDTLS_NO_DTLS13, docs/building.md)
    dtls13: bool = true,
};

// The provider's upstream library compiled for the target from third_party/
// (docs/portability.md). BearSSL is plain C with no configuration; libsodium
// is built with the settings its ./configure would find for the OS, and on
// x86-64 its run-time-dispatched SIMD code and X25519 assembly, but not its
// AES-NI code: AES-256-GCM is then reported unavailable and the provider
// leaves it out.
fn addProviderFromSource(b: *std.Build, v: Variant) ?*std.Build.Step.Compile {
    const t = v.target.result;
    const root = providerRoot(b, v);
    // PIC: the shared libcdtls links this archive in.
    const mod = b.createModule(.{ .target = v.target, .optimize = v.optimize, .link_libc = t.os.tag != .freestanding, .pic = if (t.os.tag == .freestanding) null else true });
    var files = List([]const u8).init(b.allocator);
    var flags = List([]const u8).init(b.allocator);
    // Third-party code: its own warnings are not ours to fix; and zig's
    // default UBSan trap in Debug builds is for our code, not theirs.
    flags.appendSlice(&.{ "-std=c99", "-w", "-fno-sanitize=undefined", "-fno-strict-aliasing", "-fwrapv" }) catch @panic("OOM");
    switch (v.crypto) {
        .bearssl => {
            if (!collectCRecursive(b, root, "src", &files)) return null;
            // No C library: the firmware's <string.h> (examples/firmware/libc).
            if (t.os.tag == .freestanding) mod.addIncludePath(b.path("examples/firmware/libc"));
            mod.addIncludePath(root.path(b, "inc"));
            mod.addIncludePath(root.path(b, "src"));
        },
        .sodium => {
            if (t.os.tag == .freestanding) return null; // libsodium needs a C library
            if (!collectCRecursive(b, root, "src/libsodium", &files)) return null;
            mod.addIncludePath(root.path(b, "src/libsodium/include/sodium"));
            mod.addIncludePath(root.path(b, "src/libsodium/include"));
            flags.append("-DCONFIGURED=1") catch @panic("OOM");
            // Linked into libcdtls.so (natively too when the system
            // libsodium lacks ML-KEM, sodiumFromSource): its names stay
            // inside, as only cdtls_ names may leave (scripts/check-symbols.sh).
            flags.appendSlice(&.{ "-DSODIUM_STATIC=1", "-fvisibility=hidden" }) catch @panic("OOM");
            flags.append(if (t.cpu.arch.endian() == .big) "-DNATIVE_BIG_ENDIAN=1" else "-DNATIVE_LITTLE_ENDIAN=1") catch @panic("OOM");
            if (t.ptrBitWidth() == 64) flags.append("-DHAVE_TI_MODE=1") catch @panic("OOM");
            // Wiping: explicit_bzero / memset_s, as ./configure finds them;
            // without either libsodium zeroes byte by byte through a
            // volatile pointer, which took 13 % of a 1.3 handshake's CPU
            // (it wipes every hash state it finishes).
            switch (t.os.tag) {
                .linux, .freebsd => flags.append("-DHAVE_EXPLICIT_BZERO=1") catch @panic("OOM"),
                .macos => flags.append("-DHAVE_MEMSET_S=1") catch @panic("OOM"),
                else => {},
            }
            // x86-64: CPU feature detection and the SIMD code paths libsodium
            // picks at run time (ChaCha20, Poly1305, BLAKE2b, ML-KEM), and on
            // ELF systems the AVX assembly for X25519 (sandy2x, as ./configure
            // enables it): each used only where the CPU has it. Not AES-NI
            // (no wmmintrin): AES-256-GCM stays unavailable, as before.
            if (t.cpu.arch == .x86_64) {
                flags.appendSlice(&.{ "-DHAVE_CPUID=1", "-DHAVE_EMMINTRIN_H=1", "-DHAVE_TMMINTRIN_H=1", "-DHAVE_SMMINTRIN_H=1", "-DHAVE_AVXINTRIN_H=1", "-DHAVE_AVX2INTRIN_H=1" }) catch @panic("OOM");
                if (t.os.tag == .linux or t.os.tag == .freebsd) {
                    // its symbols stay inside libcdtls.so, as the C ones (ELF)
                    flags.appendSlice(&.{ "-DHAVE_AVX_ASM=1", "-DASM_HIDE_SYMBOL=.hidden" }) catch @panic("OOM");
                    files.append("src/libsodium/crypto_scalarmult/curve25519/sandy2x/sandy2x.S") catch @panic("OOM");
                }
            }
            switch (t.os.tag) {
                .windows => flags.appendSlice(&.{ "-DSODIUM_STATIC=1", "-DHAVE_RAISE=1" }) catch @panic("OOM"),
                // FreeBSD: getrandom() is declared in <sys/random.h>.
                .freebsd => flags.appendSlice(&.{ "-DHAVE_SYS_RANDOM_H=1", "-DHAVE_PTHREAD=1", "-DHAVE_SYS_MMAN_H=1", "-DHAVE_MMAP=1", "-DHAVE_MPROTECT=1", "-DHAVE_POSIX_MEMALIGN=1", "-DHAVE_RAISE=1" }) catch @panic("OOM"),
                .macos => flags.appendSlice(&.{ "-DHAVE_PTHREAD=1", "-DHAVE_ARC4RANDOM=1", "-DHAVE_ARC4RANDOM_BUF=1", "-DHAVE_SYS_MMAN_H=1", "-DHAVE_MMAP=1", "-DHAVE_MPROTECT=1", "-DHAVE_POSIX_MEMALIGN=1", "-DHAVE_RAISE=1" }) catch @panic("OOM"),
                else => flags.appendSlice(&.{ "-D_GNU_SOURCE=1", "-DHAVE_PTHREAD=1", "-DHAVE_SYS_MMAN_H=1", "-DHAVE_MMAP=1", "-DHAVE_MPROTECT=1", "-DHAVE_MADVISE=1", "-DHAVE_MLOCK=1", "-DHAVE_POSIX_MEMALIGN=1", "-DHAVE_RAISE=1", "-DHAVE_SYSCONF=1" }) catch @panic("OOM"),
            }
        },
        // libcrypto is native-only: building OpenSSL for a target takes its
        // Configure and perl-generated assembly, not a list of C files
        // (docs/portability.md).
        .openssl => return null,
    }
    mod.addCSourceFiles(.{ .root = root, .files = files.items, .flags = flags.items });
    const lib = b.addLibrary(.{ .linkage = .static, .name = @tagName(v.crypto), .root_module = mod });
    // Its public headers go with it: whatever links it (the cdtls library,
    // a consumer's program) finds <bearssl.h> / <sodium.h> there.
    lib.installHeadersDirectory(providerIncludeDir(b, v), "", .{ .include_extensions = &.{".h"} });
    return lib;
}

// Where the provider's upstream source is: -Dprovider-src-dir, or third_party/.
fn providerRoot(b: *std.Build, v: Variant) std.Build.LazyPath {
    if (v.provider_dir) |d| return d;
    return b.path(b.fmt("third_party/{s}", .{if (v.crypto == .sodium) "libsodium" else @tagName(v.crypto)}));
}

// The directory holding the provider's public header (bearssl.h, sodium.h).
fn providerIncludeDir(b: *std.Build, v: Variant) std.Build.LazyPath {
    return providerRoot(b, v).path(b, if (v.crypto == .sodium) "src/libsodium/include" else "inc");
}

// The sodium provider's ML-KEM-768 (X25519MLKEM768, docs/pq.md) needs
// libsodium 1.0.22; Debian bookworm ships 1.0.18. So a native sodium build
// whose system libsodium lacks crypto_kem_mlkem768 compiles the 1.0.22 tree
// that scripts/fetch-provider-src.sh puts in third_party/ (from Debian sid),
// when that tree is there; otherwise it links the system library and the
// build has no KEM (the provider leaves the entry NULL).
fn sodiumFromSource(b: *std.Build) bool {
    const kem_h = "sodium/crypto_kem_mlkem768.h";
    std.fs.accessAbsolute("/usr/include/" ++ kem_h, .{}) catch {
        b.build_root.handle.access("third_party/libsodium/src/libsodium/include/" ++ kem_h, .{}) catch return false;
        return true;
    };
    return false;
}

// The installed static library. On ELF targets it is one relocatable object
// (zig build-obj links the library's objects with -r) whose hidden symbols
// llvm-objcopy --localize-hidden turns local, so an application linking
// libcdtls.a sees only the cdtls_ names and its own conn_fail or der_read
// cannot collide with ours. Mach-O and COFF archives keep the plain objects
// (hidden visibility still limits the dylib/DLL exports).
//
// The plain archive (lib_mod as its root module) is also what an external
// provider gets, so that useProvider() reaches the module that compiles the
// provider glue, and what a host without llvm-objcopy gets (a zig package
// consumer on macOS or Windows): the names stay hidden, not local.
fn addPublicArchive(b: *std.Build, v: Variant, lib_mod: *std.Build.Module, provider: ?*std.Build.Step.Compile) *std.Build.Step.Compile {
    const t = v.target.result;
    const objcopy = b.findProgram(&.{"llvm-objcopy"}, &.{}) catch null;
    // A program that links the archive links a provider compiled here too
    // (zig carries a static library's static libraries over to what links
    // it, and keeps them out of the archive itself). Never on the module of
    // the relocatable object below: `-r` would pull the provider into it.
    // A system library cannot ride along: zig would put libbearssl.so
    // inside libcdtls.a; its users name it themselves (cdtls.pc's
    // Libs.private; docs/building.md).
    if (t.ofmt != .elf or v.provider_source == .external or objcopy == null) {
        if (provider) |p| lib_mod.linkLibrary(p);
        return b.addLibrary(.{ .linkage = .static, .name = "cdtls", .root_module = lib_mod });
    }
    const whole = b.addObject(.{ .name = "cdtls-whole", .root_module = lib_mod });
    const localize = b.addSystemCommand(&.{ "llvm-objcopy", "--localize-hidden" });
    localize.addFileArg(whole.getEmittedBin());
    const localized = localize.addOutputFileArg("cdtls.o");
    const mod = b.createModule(.{ .target = v.target, .optimize = v.optimize, .link_libc = t.os.tag != .freestanding });
    mod.addObjectFile(localized);
    // What links this archive links a provider compiled here too (as above).
    if (provider) |p| mod.linkLibrary(p);
    // Its headers, for a consumer that links it: -I of the provider's tree.
    providerIncludes(b, mod, v);
    return b.addLibrary(.{ .linkage = .static, .name = "cdtls", .root_module = mod });
}

fn linkProvider(mod: *std.Build.Module, v: Variant, provider: ?*std.Build.Step.Compile) void {
    if (v.provider_source == .external) return; // useProvider() links it
    if (provider) |p| mod.linkLibrary(p) else mod.linkSystemLibrary(libName(v.crypto), .{});
}

/// For a zig project that depends on cdtls (docs/building.md, "As a zig
/// package") and builds the crypto library itself, e.g. libsodium through
/// its upstream build.zig as a dependency of its own: get cdtls with
/// `.provider_source = .external` and hand the provider's static library
/// here. cdtls's provider glue is then compiled against the headers that
/// provider_lib installs (installHeader / installHeadersDirectory: bearssl.h
/// or sodium.h must be among them), and every program linking cdtls_lib
/// links provider_lib too.
///
///     const cdtls_dep = b.dependency("cdtls", .{ .target = target, .optimize = optimize,
///         .crypto = .sodium, .provider_source = .external });
///     const cdtls_lib = cdtls_dep.artifact("cdtls");
///     @import("cdtls").useProvider(cdtls_lib, sodium_dep.artifact("sodium"));
pub fn useProvider(cdtls_lib: *std.Build.Step.Compile, provider_lib: *std.Build.Step.Compile) void {
    cdtls_lib.root_module.linkLibrary(provider_lib);
}

fn providerIncludes(b: *std.Build, mod: *std.Build.Module, v: Variant) void {
    if (v.provider_source != .source or v.crypto == .openssl) return;
    mod.addIncludePath(providerIncludeDir(b, v));
}

fn install(b: *std.Build, step: *std.Build.Step, v: Variant, art: *std.Build.Step.Compile) void {
    if (v.subdir) |sub| {
        const dir: std.Build.InstallDir = .{ .custom = sub };
        const ia = b.addInstallArtifact(art, .{
            .dest_dir = .{ .override = dir },
            .pdb_dir = .disabled,
            .h_dir = .disabled,
            .implib_dir = .disabled,
        });
        step.dependOn(&ia.step);
    } else {
        b.installArtifact(art);
    }
}

const Built = struct {
    static_lib: *std.Build.Step.Compile,
    tests: ?*std.Build.Step.Compile,
};

/// Library and tools go to `step`; the test binary to `test_install` (the
/// same step for a normal build; the cross matrix builds tests only for the
/// targets whose step asks for them).
fn addVariant(b: *std.Build, v: Variant, step: *std.Build.Step, with_shared: bool, test_install: *std.Build.Step) ?Built {
    const t = v.target.result;
    const is_windows = t.os.tag == .windows;
    const crypto_name = @tagName(v.crypto);
    const provider: ?*std.Build.Step.Compile = if (v.provider_source == .source) (addProviderFromSource(b, v) orelse {
        const fail = b.addFail(if (v.crypto == .openssl) "the openssl provider builds for the native target only (it links the system libcrypto)" else b.fmt("no {s} source in {s}: run scripts/fetch-provider-src.sh (third_party/), name an upstream tree with -Dprovider-src-dir=PATH, or build with -Dprovider-source=system|external (docs/building.md)", .{ crypto_name, providerRoot(b, v).getDisplayName() }));
        step.dependOn(&fail.step);
        return null;
    }) else null;

    var lib_sources = List([]const u8).init(b.allocator);
    for (core_dirs) |dir| collectC(b, dir, &lib_sources);
    // The io module (sockets, OOB): the only code that touches the OS network API.
    collectC(b, "src/io", &lib_sources);
    collectC(b, b.fmt("providers/{s}", .{crypto_name}), &lib_sources);

    var lib_flags = List([]const u8).init(b.allocator);
    lib_flags.appendSlice(&warn_flags) catch @panic("OOM");
    lib_flags.appendSlice(&lib_only_flags) catch @panic("OOM");
    if (is_windows and v.crypto == .sodium) lib_flags.append("-DSODIUM_STATIC=1") catch @panic("OOM");
    if (!v.dtls13) lib_flags.append("-DCDTLS_NO_DTLS13=1") catch @panic("OOM");

    // ---------------------------------------------------------------- library
    const lib_mod = b.createModule(.{ .target = v.target, .optimize = v.optimize, .link_libc = true });
    lib_mod.addIncludePath(b.path("include"));
    lib_mod.addIncludePath(b.path("src"));
    providerIncludes(b, lib_mod, v);
    lib_mod.addCSourceFiles(.{ .files = lib_sources.items, .flags = lib_flags.items });
    // The static archive does not link the crypto library (an archive cannot
    // contain a shared object); its users do, as cdtls.pc's Libs.private says.
    if (v.provider_source == .system) lib_mod.addSystemIncludePath(.{ .cwd_relative = "/usr/include" });

    // The tests use internals (record_seal, der_read...), which the
    // installed archive hides: they link this one, never installed.
    const internal_lib = b.addLibrary(.{ .linkage = .static, .name = "cdtls-internal", .root_module = lib_mod });
    const static_lib = addPublicArchive(b, v, lib_mod, provider);
    if (v.subdir == null) static_lib.installHeadersDirectory(b.path("include/cdtls"), "cdtls", .{});
    install(b, step, v, static_lib);
    // A provider compiled from third_party/ (natively: libsodium 1.0.22 for
    // ML-KEM, sodiumFromSource) goes beside libcdtls.a, where cdtls.pc's
    // -L${libdir} finds it before an older system copy of the library.
    if (v.subdir == null) if (provider) |p| install(b, step, v, p);

    if (with_shared) {
        const shared_mod = b.createModule(.{ .target = v.target, .optimize = v.optimize, .link_libc = true, .pic = true });
        shared_mod.addIncludePath(b.path("include"));
        shared_mod.addIncludePath(b.path("src"));
        providerIncludes(b, shared_mod, v);
        // Windows: the DLL exports the CDTLS_API functions (dllexport), and only them.
        var shared_flags = List([]const u8).init(b.allocator);
        shared_flags.appendSlice(lib_flags.items) catch @panic("OOM");
        if (is_windows) shared_flags.append("-DCDTLS_DLL_EXPORT=1") catch @panic("OOM");
        shared_mod.addCSourceFiles(.{ .files = lib_sources.items, .flags = shared_flags.items });
        linkProvider(shared_mod, v, provider);
        if (is_windows) shared_mod.linkSystemLibrary("ws2_32", .{});
        const shared_lib = b.addLibrary(.{ .linkage = .dynamic, .name = "cdtls", .root_module = shared_mod, .version = .{ .major = 0, .minor = 1, .patch = 0 } });
        // Installed through a step of its own: the install step's direct
        // artifacts are what a zig package's artifact("cdtls") looks up, and
        // that must be the static library alone. The shared library keeps
        // the name cdtls, which gives its files and its SONAME
        // (libcdtls.so.0; zig 0.15 has no separate soname setting); a
        // consumer gets it as the named path "cdtls-shared".
        if (v.subdir == null) {
            const shared_step = b.allocator.create(std.Build.Step) catch @panic("OOM");
            shared_step.* = std.Build.Step.init(.{ .id = .custom, .name = "install cdtls-shared", .owner = b });
            shared_step.dependOn(&b.addInstallArtifact(shared_lib, .{}).step);
            step.dependOn(shared_step);
            b.addNamedLazyPath("cdtls-shared", shared_lib.getEmittedBin());
        } else install(b, step, v, shared_lib);
    }

    // ------------------------------------------------------------------ tools
    const tools = [_][3][]const u8{
        .{ "cdtls-selftest", "examples/selftest.c", "" },
        .{ "cdtls-client", "examples/cdtls_client.c", "examples/cli_common.c" },
        .{ "cdtls-server", "examples/cdtls_server.c", "examples/cli_common.c" },
    };
    for (tools) |tool| {
        if (!hasPath(b, tool[1])) continue;
        const mod = b.createModule(.{ .target = v.target, .optimize = v.optimize, .link_libc = true });
        mod.addIncludePath(b.path("include"));
        if (tool[2].len > 0)
            mod.addCSourceFiles(.{ .files = &.{ tool[1], tool[2] }, .flags = &warn_flags })
        else
            mod.addCSourceFiles(.{ .files = &.{tool[1]}, .flags = &warn_flags });
        mod.linkLibrary(static_lib);
        linkProvider(mod, v, provider);
        if (is_windows) mod.linkSystemLibrary("ws2_32", .{});
        const exe = b.addExecutable(.{ .name = tool[0], .root_module = mod });
        install(b, step, v, exe);
        if (v.subdir == null and std.mem.eql(u8, tool[0], "cdtls-selftest")) {
            const demo_step = b.step("demo", "run the provider self-test");
            demo_step.dependOn(&b.addRunArtifact(exe).step);
        }
    }

    // ------------------------------------------------------------------ tests
    if (!hasPath(b, "tests/shim/runner.c")) return .{ .static_lib = static_lib, .tests = null };
    var test_sources = List([]const u8).init(b.allocator);
    var all_tests = List([]const u8).init(b.allocator);
    collectC(b, "tests", &all_tests);
    for (all_tests.items) |f| {
        if (is_windows and isIn(f, &posix_only_tests)) continue;
        test_sources.append(f) catch @panic("OOM");
    }
    const test_mod = b.createModule(.{ .target = v.target, .optimize = v.optimize, .link_libc = true });
    test_mod.addIncludePath(b.path("include"));
    test_mod.addIncludePath(b.path("src"));
    test_mod.addIncludePath(b.path("tests"));
    providerIncludes(b, test_mod, v);
    var test_flags = List([]const u8).init(b.allocator);
    test_flags.appendSlice(&base_flags) catch @panic("OOM");
    test_flags.append(b.fmt("-DCDTLS_SOURCE_DIR=\"{s}\"", .{b.build_root.path orelse "."})) catch @panic("OOM");
    test_flags.append(b.fmt("-DCDTLS_PROVIDER_NAME=\"{s}\"", .{crypto_name})) catch @panic("OOM");
    if (is_windows and v.crypto == .sodium) test_flags.append("-DSODIUM_STATIC=1") catch @panic("OOM");
    // the 1.3 tests skip themselves, saying why (CDTLS_HAVE_DTLS13, engine/conn_internal.h)
    if (!v.dtls13) test_flags.append("-DCDTLS_NO_DTLS13=1") catch @panic("OOM");
    if (v.runner == .shim) {
        // tests/shim/criterion/criterion.h stands in for <criterion/criterion.h>.
        test_mod.addIncludePath(b.path("tests/shim"));
        test_sources.append("tests/shim/runner.c") catch @panic("OOM");
        test_flags.append("-DCDTLS_TEST_SHIM=1") catch @panic("OOM");
    }
    // Native bearssl and sodium builds: the tests also link the libcrypto
    // provider, to test a combined table that borrows from it
    // (tests/test_provider_combine.c, docs/providers.md).
    const borrow_openssl = v.crypto != .openssl and v.subdir == null and (v.provider_source == .system or v.target.query.isNative()) and t.os.tag == .linux;
    if (borrow_openssl) {
        test_flags.append("-DCDTLS_TEST_OPENSSL=1") catch @panic("OOM");
        test_mod.addCSourceFiles(.{ .files = &openssl_provider_files, .flags = &warn_flags });
    }
    test_mod.addCSourceFiles(.{ .files = test_sources.items, .flags = test_flags.items });
    test_mod.linkLibrary(internal_lib);
    linkProvider(test_mod, v, provider);
    if (borrow_openssl) test_mod.linkSystemLibrary("crypto", .{});
    if (is_windows) test_mod.linkSystemLibrary("ws2_32", .{});
    if (v.runner == .criterion) test_mod.linkSystemLibrary("criterion", .{});
    if (!is_windows) test_mod.linkSystemLibrary("pthread", .{}); // tests/test_sock.c runs a server thread
    const tests = b.addExecutable(.{ .name = b.fmt("cdtls-tests-{s}", .{crypto_name}), .root_module = test_mod });
    install(b, test_install, v, tests);
    return .{ .static_lib = static_lib, .tests = tests };
}

// The core for a freestanding Cortex-M4 (thumb): no C library, no io module,
// a PSK + AES-CCM_8 configuration (CDTLS_PSK_ONLY leaves out the certificate
// handshake and X.509), BearSSL from source, built for size. The firmware
// example (examples/firmware/psk_ccm8.c) links both with section GC so the
// image's size is what a device would carry.
fn addFirmware(b: *std.Build, step: *std.Build.Step) void {
    const query = std.Target.Query{ .cpu_arch = .thumb, .os_tag = .freestanding, .abi = .eabi, .cpu_model = .{ .explicit = &std.Target.arm.cpu.cortex_m4 } };
    const target = b.resolveTargetQuery(query);
    const v: Variant = .{ .target = target, .optimize = .ReleaseSmall, .crypto = .bearssl, .provider_source = .source, .runner = .shim, .subdir = "firmware" };
    const provider = addProviderFromSource(b, v) orelse {
        step.dependOn(&b.addFail("no BearSSL source: run scripts/fetch-provider-src.sh").step);
        return;
    };
    var core = List([]const u8).init(b.allocator);
    for (core_dirs) |dir| {
        if (std.mem.eql(u8, dir, "src/x509")) continue; // certificates: not in a PSK-only build
        collectC(b, dir, &core);
    }
    // Not providers/bearssl/default.c: the firmware names its own default
    // provider (the PSK/CCM_8 table with the board's RNG).
    var prov = List([]const u8).init(b.allocator);
    collectC(b, "providers/bearssl", &prov);
    for (prov.items) |f| if (!std.mem.endsWith(u8, f, "/default.c")) core.append(f) catch @panic("OOM");
    const flags = warn_flags ++ [_][]const u8{ "-DCDTLS_FREESTANDING=1", "-DCDTLS_PSK_ONLY=1", "-DCDTLS_PROVIDER_NAME=\"bearssl\"", "-ffunction-sections", "-fdata-sections" };
    const core_flags = flags ++ lib_only_flags;
    const mod = b.createModule(.{ .target = target, .optimize = .ReleaseSmall, .link_libc = false });
    mod.addIncludePath(b.path("include"));
    mod.addIncludePath(b.path("src"));
    mod.addIncludePath(b.path("third_party/bearssl/inc"));
    mod.addIncludePath(b.path("examples/firmware/libc"));
    mod.addCSourceFiles(.{ .files = core.items, .flags = &core_flags });
    const lib = b.addLibrary(.{ .linkage = .static, .name = "cdtls-core", .root_module = mod });
    install(b, step, v, lib);
    install(b, step, v, provider);

    const fw_mod = b.createModule(.{ .target = target, .optimize = .ReleaseSmall, .link_libc = false });
    fw_mod.addIncludePath(b.path("include"));
    fw_mod.addIncludePath(b.path("third_party/bearssl/inc"));
    fw_mod.addIncludePath(b.path("examples/firmware/libc"));
    fw_mod.addCSourceFiles(.{ .files = &.{"examples/firmware/psk_ccm8.c"}, .flags = &flags });
    fw_mod.linkLibrary(lib);
    fw_mod.linkLibrary(provider);
    // Symbols kept: scripts/firmware-size.sh attributes .text to the core,
    // BearSSL and the image by symbol (symbols take no space on the device).
    fw_mod.strip = false;
    const fw = b.addExecutable(.{ .name = "psk_ccm8.elf", .root_module = fw_mod });
    fw.link_gc_sections = true;
    fw.entry = .{ .symbol_name = "firmware_main" };
    install(b, step, v, fw);
}

// The benchmarks (bench/, docs/benchmarks.md): for each provider (bearssl,
// sodium, openssl) a ReleaseFast library and cdtls-bench-<provider>, and
// openssl-bench against the system libssl, into zig-out/bench/. Always ReleaseFast, whatever
// -Doptimize says: numbers from a Debug build would mean nothing. The pion
// program (bench/pion, Go) is built by scripts/bench.sh.
fn addBench(b: *std.Build, target: std.Build.ResolvedTarget, step: *std.Build.Step) void {
    const dir: std.Build.InstallDir = .{ .custom = "bench" };
    // sodium-src: the sodium provider on libsodium 1.0.22 compiled from
    // third_party/, made only when the system's libsodium lacks ML-KEM
    // (sodiumFromSource): scripts/bench.sh runs it for hs13's
    // X25519MLKEM768; cdtls-bench-sodium stays on the system library, so
    // the other workloads' numbers keep meaning what they meant.
    const BenchBuild = struct { c: Crypto, src: bool };
    for ([_]BenchBuild{ .{ .c = .bearssl, .src = false }, .{ .c = .sodium, .src = false }, .{ .c = .openssl, .src = false }, .{ .c = .sodium, .src = true } }) |bb| {
        const c = bb.c;
        if (bb.src and !sodiumFromSource(b)) continue;
        const name = @tagName(c);
        const tag = if (bb.src) "sodium-src" else name;
        var sources = List([]const u8).init(b.allocator);
        for (core_dirs) |d| collectC(b, d, &sources);
        collectC(b, "src/io", &sources);
        collectC(b, b.fmt("providers/{s}", .{name}), &sources);
        const flags = warn_flags ++ lib_only_flags ++ [_][]const u8{b.fmt("-DCDTLS_PROVIDER_NAME=\"{s}\"", .{name})};
        const lib_mod = b.createModule(.{ .target = target, .optimize = .ReleaseFast, .link_libc = true });
        lib_mod.addIncludePath(b.path("include"));
        lib_mod.addIncludePath(b.path("src"));
        lib_mod.addSystemIncludePath(.{ .cwd_relative = "/usr/include" });
        lib_mod.addCSourceFiles(.{ .files = sources.items, .flags = &flags });
        const provider: ?*std.Build.Step.Compile = if (bb.src)
            addProviderFromSource(b, .{ .target = target, .optimize = .ReleaseFast, .crypto = .sodium, .provider_source = .source, .runner = .shim, .subdir = null })
        else
            null;
        if (provider) |p| lib_mod.linkLibrary(p);
        const lib = b.addLibrary(.{ .linkage = .static, .name = b.fmt("cdtls-bench-{s}", .{tag}), .root_module = lib_mod });
        // The archive itself too: scripts/bench.sh reports its .text size.
        step.dependOn(&b.addInstallArtifact(lib, .{ .dest_dir = .{ .override = dir } }).step);

        const mod = b.createModule(.{ .target = target, .optimize = .ReleaseFast, .link_libc = true });
        mod.addIncludePath(b.path("include"));
        // cdtls_bench.c also times the record layer's own functions (src/record).
        mod.addIncludePath(b.path("src"));
        mod.addCSourceFiles(.{ .files = &.{"bench/cdtls_bench.c"}, .flags = &warn_flags });
        mod.linkLibrary(lib);
        if (provider) |p| mod.linkLibrary(p) else mod.linkSystemLibrary(libName(c), .{});
        const exe = b.addExecutable(.{ .name = b.fmt("cdtls-bench-{s}", .{tag}), .root_module = mod });
        step.dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = dir } }).step);
    }
    const ossl = b.createModule(.{ .target = target, .optimize = .ReleaseFast, .link_libc = true });
    ossl.addSystemIncludePath(.{ .cwd_relative = "/usr/include" });
    ossl.addCSourceFiles(.{ .files = &.{"bench/openssl_bench.c"}, .flags = &base_flags });
    ossl.linkSystemLibrary("ssl", .{});
    ossl.linkSystemLibrary("crypto", .{});
    const ossl_exe = b.addExecutable(.{ .name = "openssl-bench", .root_module = ossl });
    step.dependOn(&b.addInstallArtifact(ossl_exe, .{ .dest_dir = .{ .override = dir } }).step);
}

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const crypto = b.option(Crypto, "crypto", "crypto provider: bearssl (default), sodium or openssl (libcrypto; native only)") orelse .bearssl;
    const native = target.query.isNative();
    const provider_dir = b.option(std.Build.LazyPath, "provider-src-dir", "the provider's upstream source tree to compile (BearSSL's or libsodium's root directory; default third_party/<provider>); implies -Dprovider-source=source");
    const provider_source = b.option(ProviderSource, "provider-source", "system: link the installed provider library (default for native builds, but for sodium when the system's lacks ML-KEM and third_party/ has 1.0.22); source: compile it from -Dprovider-src-dir or third_party/ (default for other targets); external: the consumer links its own through useProvider()") orelse (if (native and provider_dir == null and !(crypto == .sodium and sodiumFromSource(b))) ProviderSource.system else ProviderSource.source);
    const runner = b.option(TestRunner, "test-runner", "criterion: link libcriterion (default for native builds); shim: tests/shim (default for other targets)") orelse (if (native) TestRunner.criterion else TestRunner.shim);
    const sanitize = b.option([]const u8, "sanitize", "build the tests with system clang and these -fsanitize= checks, e.g. address,undefined");

    const dtls13 = b.option(bool, "dtls13", "DTLS 1.3 (default true); false compiles it out (CDTLS_NO_DTLS13): a 1.2-only library, smaller") orelse true;
    const v: Variant = .{ .target = target, .optimize = optimize, .crypto = crypto, .provider_source = provider_source, .provider_dir = provider_dir, .runner = runner, .subdir = null, .dtls13 = dtls13 };
    const crypto_name = @tagName(crypto);
    const test_step = b.step("test", "run the test suites");

    if (target.result.os.tag == .freestanding) {
        // Only the core exists there: `zig build firmware` is the supported way.
        if (hasPath(b, "examples/firmware/psk_ccm8.c")) addFirmware(b, b.getInstallStep());
        return;
    }

    const built = addVariant(b, v, b.getInstallStep(), true, b.getInstallStep());

    // pkg-config file, pointing at the install prefix.
    const pc = b.addWriteFiles();
    const pc_file = pc.add("cdtls.pc", b.fmt(
        \\prefix={s}
        \\libdir=${{prefix}}/lib
        \\includedir=${{prefix}}/include
        \\
        \\Name: cdtls
        \\Description: DTLS 1.2 with pluggable crypto and per-datagram OOB data (crypto: {s})
        \\Version: 0.1.0
        \\Libs: -L${{libdir}} -lcdtls
        \\Libs.private: -l{s}
        \\Cflags: -I${{includedir}}
        \\
    , .{ b.install_prefix, crypto_name, libName(crypto) }));
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(pc_file, .lib, "pkgconfig/cdtls.pc").step);

    // The matrix and the firmware image.
    const cross_step = b.step("cross", "build library and tools for every target x provider, and tests where cross_test_targets says, into zig-out/cross/");
    for (cross_targets) |triple| {
        const q = std.Target.Query.parse(.{ .arch_os_abi = triple }) catch @panic("bad triple");
        const xt = b.resolveTargetQuery(q);
        // `zig build cross-<triple>`: one target, both providers, with its
        // tests (scripts/cross-test.sh builds and runs through it).
        const one = b.step(b.fmt("cross-{s}", .{triple}), b.fmt("build library, tools and tests for {s} x {{bearssl, sodium}} into zig-out/cross/", .{triple}));
        const lib_only = b.allocator.create(std.Build.Step) catch @panic("OOM");
        lib_only.* = std.Build.Step.init(.{ .id = .custom, .name = b.fmt("cross {s} library and tools", .{triple}), .owner = b });
        one.dependOn(lib_only);
        for ([_]Crypto{ .bearssl, .sodium }) |c| {
            const xv: Variant = .{ .target = xt, .optimize = .ReleaseSafe, .crypto = c, .provider_source = .source, .runner = .shim, .subdir = b.fmt("cross/{s}-{s}", .{ triple, @tagName(c) }) };
            _ = addVariant(b, xv, lib_only, false, one);
        }
        cross_step.dependOn(if (isIn(triple, &cross_test_targets)) one else lib_only);
    }
    const fw_step = b.step("firmware", "build the freestanding Cortex-M4 PSK/AES-CCM_8 core and firmware image into zig-out/firmware/");
    if (hasPath(b, "examples/firmware/psk_ccm8.c")) addFirmware(b, fw_step);
    cross_step.dependOn(fw_step);
    if (native and hasPath(b, "bench/cdtls_bench.c")) addBench(b, target, b.step("bench", "build the benchmarks (ReleaseFast, every provider, OpenSSL) into zig-out/bench/; scripts/bench.sh runs them"));

    if (sanitize) |checks| {
        // System clang with ASan/UBSan over every source, library and tests,
        // so the whole program is instrumented.
        var lib_sources = List([]const u8).init(b.allocator);
        for (core_dirs) |dir| collectC(b, dir, &lib_sources);
        collectC(b, "src/io", &lib_sources);
        collectC(b, b.fmt("providers/{s}", .{crypto_name}), &lib_sources);
        var test_sources = List([]const u8).init(b.allocator);
        collectC(b, "tests", &test_sources);
        // Each source compiled by its own clang command (the build runner
        // runs them in parallel), then one link: the whole program
        // instrumented, as before, in a fraction of the wall time of one
        // serial command.
        // The library's objects get flags that do not name the provider, so
        // src/ compiles once for the three providers' sanitized runs (the
        // build cache is keyed by the command); of the tests, only the two
        // files that read CDTLS_PROVIDER_NAME or CDTLS_TEST_OPENSSL differ.
        var lib_cflags = List([]const u8).init(b.allocator);
        lib_cflags.appendSlice(&base_flags) catch @panic("OOM");
        lib_cflags.appendSlice(&.{ b.fmt("-fsanitize={s}", .{checks}), "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1" }) catch @panic("OOM");
        if (!dtls13) lib_cflags.append("-DCDTLS_NO_DTLS13=1") catch @panic("OOM");
        var test_cflags = List([]const u8).init(b.allocator);
        test_cflags.appendSlice(lib_cflags.items) catch @panic("OOM");
        test_cflags.append(b.fmt("-DCDTLS_SOURCE_DIR=\"{s}\"", .{b.build_root.path orelse "."})) catch @panic("OOM");
        const link = b.addSystemCommand(&.{ "clang", b.fmt("-fsanitize={s}", .{checks}), "-g" });
        var all_sources = List([]const u8).init(b.allocator);
        all_sources.appendSlice(lib_sources.items) catch @panic("OOM");
        if (crypto != .openssl) all_sources.appendSlice(&openssl_provider_files) catch @panic("OOM");
        const n_lib = all_sources.items.len;
        all_sources.appendSlice(test_sources.items) catch @panic("OOM");
        for (all_sources.items, 0..) |f, i| {
            const obj = b.addSystemCommand(&.{"clang"});
            obj.addArgs(if (i < n_lib) lib_cflags.items else test_cflags.items);
            if (std.mem.eql(u8, f, "tests/test_provider_caps.c"))
                obj.addArg(b.fmt("-DCDTLS_PROVIDER_NAME=\"{s}\"", .{crypto_name}));
            // as in addVariant: the tests borrow from the libcrypto provider
            if (crypto != .openssl and std.mem.eql(u8, f, "tests/test_provider_combine.c"))
                obj.addArg("-DCDTLS_TEST_OPENSSL=1");
            obj.addArg("-I");
            obj.addDirectoryArg(b.path("include"));
            obj.addArg("-I");
            obj.addDirectoryArg(b.path("src"));
            obj.addArg("-I");
            obj.addDirectoryArg(b.path("tests"));
            // The headers a source includes, from clang's depfile: the
            // cache hashes a directory argument by its name only, so
            // without it an edited header would not rebuild the object.
            obj.addArg("-MD");
            _ = obj.addPrefixedDepFileOutputArg("-MF", "deps.d");
            obj.addArg("-c");
            obj.addFileArg(b.path(f));
            obj.addArg("-o");
            const o_name = b.dupe(f);
            std.mem.replaceScalar(u8, o_name, '/', '_');
            link.addFileArg(obj.addOutputFileArg(b.fmt("{s}.o", .{o_name})));
        }
        if (crypto != .openssl) link.addArg("-lcrypto");
        link.addArgs(&.{ b.fmt("-l{s}", .{libName(crypto)}), "-lcriterion", "-lpthread", "-o" });
        const exe = link.addOutputFileArg(b.fmt("cdtls-tests-{s}-san", .{crypto_name}));
        // One Criterion worker per process: its parallel runner (2.4.1) leaks
        // a 48-byte block of its own (calloc inside libcriterion, gone with
        // --jobs=1), and rather than suppress it, and risk hiding ours, each
        // run is serial. Two such runs go side by side instead, over two
        // halves of the suites: the one that waits on sockets, peers and
        // timers, and the one that computes (2 cores in CI). Given
        // `-- --filter ...`, one run with those arguments.
        const halves = [_][]const u8{
            "@(interop*|pion*|io_*|sock*|listener*|workers|abuse*|hostile_peer)/*",
            "!(@(interop*|pion*|io_*|sock*|listener*|workers|abuse*|hostile_peer))/*",
        };
        const n_runs: usize = if (b.args != null) 1 else halves.len;
        for (0..n_runs) |i| {
            const run = std.Build.Step.Run.create(b, b.fmt("run sanitized tests ({d})", .{i + 1}));
            run.addFileArg(exe);
            run.addArg("--jobs=1");
            if (b.args) |args| run.addArgs(args) else run.addArgs(&.{ "--filter", halves[i] });
            run.setEnvironmentVariable("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:strict_string_checks=1");
            run.setEnvironmentVariable("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
            run.has_side_effects = true;
            test_step.dependOn(&run.step);
        }
        return;
    }

    const bt = built orelse return;
    const tests = bt.tests orelse return;
    // addRunArtifact runs a foreign binary through qemu-user or wine64 when
    // the build is given -fqemu / -fwine.
    const run = b.addRunArtifact(tests);
    run.has_side_effects = true;
    // `zig build test -- --filter 'engine*/*'` passes options to the runner.
    if (b.args) |args| run.addArgs(args);
    test_step.dependOn(&run.step);
}
