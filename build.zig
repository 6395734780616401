// cdtls build script (zig 0.14.1, pinned in scripts/setup.sh).
//
//   zig build -Dcrypto=bearssl|sodium          static + shared library, headers, cdtls.pc
//   zig build test -Dcrypto=...                 the Criterion suites
//   zig build test -Dsanitize=address,undefined the same suites built by the system clang
//                                               with ASan+UBSan (zig's own toolchain ships
//                                               no ASan runtime, so that build goes through
//                                               clang; see docs/building.md)
//   zig build demo -Dcrypto=...                 the demo program
//
// Source lists are found by walking directories, so adding a .c file to a
// directory is all it takes to build it.
const std = @import("std");

const Crypto = enum { bearssl, sodium };

// -Werror everywhere: the project rule is a warning-free build on gcc, clang and zig cc.
// The library and examples add -Wpedantic (no extensions in the core) and
// -Wmissing-prototypes; test files use Criterion, whose macros rely on GNU
// extensions and define functions without prototypes, so they get base_flags.
const base_flags = [_][]const u8{ "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes" };
const warn_flags = base_flags ++ [_][]const u8{ "-Wpedantic", "-Wmissing-prototypes" };

// The core: pure C11, no OS or crypto-library headers (checked by scripts/check-core-purity.sh).
const core_dirs = [_][]const u8{ "src/common", "src/keys", "src/record", "src/handshake", "src/x509", "src/engine" };

fn collectC(b: *std.Build, dir: []const u8, list: *std.ArrayList([]const u8)) void {
    var d = b.build_root.handle.openDir(dir, .{ .iterate = true }) catch return;
    defer d.close();
    var names = std.ArrayList([]const u8).init(b.allocator);
    var it = d.iterate();
    while (it.next() catch null) |entry| {
        if (entry.kind != .file) continue;
        if (!std.mem.endsWith(u8, entry.name, ".c")) continue;
        names.append(b.fmt("{s}/{s}", .{ dir, entry.name })) catch @panic("OOM");
    }
    // Directory order is filesystem-dependent; sort for reproducible builds.
    std.mem.sort([]const u8, names.items, {}, struct {
        fn lt(_: void, a: []const u8, c: []const u8) bool {
            return std.mem.lessThan(u8, a, c);
        }
    }.lt);
    list.appendSlice(names.items) catch @panic("OOM");
}

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const crypto = b.option(Crypto, "crypto", "crypto provider: bearssl (default) or sodium") orelse .bearssl;
    const sanitize = b.option([]const u8, "sanitize", "build the tests with system clang and these -fsanitize= checks, e.g. address,undefined");
    const crypto_name = @tagName(crypto);
    // The io module uses Winsock on Windows (src/io/win32.c).
    const is_windows = target.result.os.tag == .windows;

    var lib_sources = std.ArrayList([]const u8).init(b.allocator);
    for (core_dirs) |dir| collectC(b, dir, &lib_sources);
    // The io module (sockets, OOB): the only code that touches the OS network API.
    collectC(b, "src/io", &lib_sources);
    const provider_dir = b.fmt("providers/{s}", .{crypto_name});
    collectC(b, provider_dir, &lib_sources);

    var test_sources = std.ArrayList([]const u8).init(b.allocator);
    collectC(b, "tests", &test_sources);

    const source_dir_define = b.fmt("-DCDTLS_SOURCE_DIR=\"{s}\"", .{b.build_root.path orelse "."});
    const provider_define = b.fmt("-DCDTLS_PROVIDER_NAME=\"{s}\"", .{crypto_name});

    var lib_flags = std.ArrayList([]const u8).init(b.allocator);
    lib_flags.appendSlice(&warn_flags) catch @panic("OOM");
    lib_flags.append(provider_define) catch @panic("OOM");

    // ---------------------------------------------------------------- library
    const lib_mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    lib_mod.addIncludePath(b.path("include"));
    lib_mod.addIncludePath(b.path("src"));
    lib_mod.addCSourceFiles(.{ .files = lib_sources.items, .flags = lib_flags.items });
    // The static archive does not link the crypto library (an archive cannot
    // contain a shared object); its users do, as cdtls.pc's Libs.private says.
    lib_mod.addSystemIncludePath(.{ .cwd_relative = "/usr/include" });

    const static_lib = b.addLibrary(.{ .linkage = .static, .name = "cdtls", .root_module = lib_mod });
    static_lib.installHeadersDirectory(b.path("include/cdtls"), "cdtls", .{});
    b.installArtifact(static_lib);

    const shared_mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true, .pic = true });
    shared_mod.addIncludePath(b.path("include"));
    shared_mod.addIncludePath(b.path("src"));
    shared_mod.addCSourceFiles(.{ .files = lib_sources.items, .flags = lib_flags.items });
    shared_mod.linkSystemLibrary(crypto_name, .{});
    if (is_windows) shared_mod.linkSystemLibrary("ws2_32", .{});
    const shared_lib = b.addLibrary(.{ .linkage = .dynamic, .name = "cdtls", .root_module = shared_mod, .version = .{ .major = 0, .minor = 1, .patch = 0 } });
    b.installArtifact(shared_lib);

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
    , .{ b.install_prefix, crypto_name, crypto_name }));
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(pc_file, .lib, "pkgconfig/cdtls.pc").step);

    // ------------------------------------------------------------------- demo
    const demo_mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    demo_mod.addIncludePath(b.path("include"));
    demo_mod.addCSourceFiles(.{ .files = &.{"examples/selftest.c"}, .flags = &warn_flags });
    demo_mod.linkLibrary(static_lib);
    demo_mod.linkSystemLibrary(crypto_name, .{});
    const demo = b.addExecutable(.{ .name = "cdtls-selftest", .root_module = demo_mod });
    b.installArtifact(demo);
    const demo_run = b.addRunArtifact(demo);
    const demo_step = b.step("demo", "run the provider self-test");
    demo_step.dependOn(&demo_run.step);

    // Command-line tools: cdtls-client and cdtls-server (examples/).
    const tools = [_][2][]const u8{ .{ "cdtls-client", "examples/cdtls_client.c" }, .{ "cdtls-server", "examples/cdtls_server.c" } };
    for (tools) |t| {
        const mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
        mod.addIncludePath(b.path("include"));
        mod.addCSourceFiles(.{ .files = &.{ t[1], "examples/cli_common.c" }, .flags = &warn_flags });
        mod.linkLibrary(static_lib);
        mod.linkSystemLibrary(crypto_name, .{});
        if (is_windows) mod.linkSystemLibrary("ws2_32", .{});
        b.installArtifact(b.addExecutable(.{ .name = t[0], .root_module = mod }));
    }

    // ------------------------------------------------------------------ tests
    const test_step = b.step("test", "run the Criterion suites");
    if (test_sources.items.len == 0) return;

    if (sanitize) |checks| {
        // System clang with ASan/UBSan; every source (library and tests) is
        // compiled in one command so the whole program is instrumented.
        const cc = b.addSystemCommand(&.{"clang"});
        cc.addArgs(&base_flags);
        cc.addArgs(&.{ b.fmt("-fsanitize={s}", .{checks}), "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1", source_dir_define, provider_define });
        cc.addArg("-I");
        cc.addDirectoryArg(b.path("include"));
        cc.addArg("-I");
        cc.addDirectoryArg(b.path("src"));
        cc.addArg("-I");
        cc.addDirectoryArg(b.path("tests"));
        for (lib_sources.items) |f| cc.addFileArg(b.path(f));
        for (test_sources.items) |f| cc.addFileArg(b.path(f));
        cc.addArgs(&.{ b.fmt("-l{s}", .{crypto_name}), "-lcriterion", "-lpthread", "-o" });
        const exe = cc.addOutputFileArg(b.fmt("cdtls-tests-{s}-san", .{crypto_name}));
        const run = std.Build.Step.Run.create(b, "run sanitized tests");
        run.addFileArg(exe);
        // One worker: Criterion 2.4.1's parallel runner leaks a 48-byte block
        // of its own (calloc inside libcriterion, gone with --jobs=1); rather
        // than suppress it, and risk hiding ours, the sanitized run is serial.
        run.addArg("--jobs=1");
        if (b.args) |args| run.addArgs(args);
        run.setEnvironmentVariable("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:strict_string_checks=1");
        run.setEnvironmentVariable("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        run.has_side_effects = true;
        test_step.dependOn(&run.step);
        return;
    }

    const test_mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    test_mod.addIncludePath(b.path("include"));
    test_mod.addIncludePath(b.path("src"));
    test_mod.addIncludePath(b.path("tests"));
    var test_flags = std.ArrayList([]const u8).init(b.allocator);
    test_flags.appendSlice(&base_flags) catch @panic("OOM");
    test_flags.append(source_dir_define) catch @panic("OOM");
    test_flags.append(provider_define) catch @panic("OOM");
    test_mod.addCSourceFiles(.{ .files = test_sources.items, .flags = test_flags.items });
    test_mod.linkLibrary(static_lib);
    test_mod.linkSystemLibrary(crypto_name, .{});
    if (is_windows) test_mod.linkSystemLibrary("ws2_32", .{});
    test_mod.linkSystemLibrary("criterion", .{});
    test_mod.linkSystemLibrary("pthread", .{}); // tests/test_sock.c runs a server thread
    const tests = b.addExecutable(.{ .name = b.fmt("cdtls-tests-{s}", .{crypto_name}), .root_module = test_mod });
    b.installArtifact(tests);
    const run = b.addRunArtifact(tests);
    run.has_side_effects = true;
    // `zig build test -- --filter 'engine*/*'` passes options to Criterion.
    if (b.args) |args| run.addArgs(args);
    test_step.dependOn(&run.step);
}
