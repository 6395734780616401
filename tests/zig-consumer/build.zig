// A project that uses cdtls as a zig package (docs/building.md, "As a zig
// package"), built by scripts/zig-consumer-check.sh natively and for other
// targets. Where the crypto provider (BearSSL here) comes from:
//
//   zig build                                  the system's libbearssl (native)
//   zig build -Dprovider=dir -Dbearssl-src=P   cdtls compiles BearSSL from the
//                                              source tree P (any target)
//   zig build -Dprovider=external -Dbearssl-src=P
//                                              this build compiles BearSSL itself
//                                              and hands it to cdtls.useProvider
const std = @import("std");
const cdtls = @import("cdtls");

const Provider = enum { system, dir, external };

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const provider = b.option(Provider, "provider", "system (default), dir or external") orelse .system;
    const bearssl_src = b.option(std.Build.LazyPath, "bearssl-src", "BearSSL's source tree (with src/ and inc/), for -Dprovider=dir|external");

    const dep = switch (provider) {
        .system => b.dependency("cdtls", .{ .target = target, .optimize = optimize, .crypto = .bearssl, .@"provider-source" = .system }),
        .dir => b.dependency("cdtls", .{ .target = target, .optimize = optimize, .crypto = .bearssl, .@"provider-src-dir" = bearssl_src orelse @panic("-Dprovider=dir needs -Dbearssl-src") }),
        .external => b.dependency("cdtls", .{ .target = target, .optimize = optimize, .crypto = .bearssl, .@"provider-source" = .external }),
    };
    const lib = dep.artifact("cdtls");

    if (provider == .external) {
        // BearSSL built here, as a project would from its own copy: plain
        // C, every file under src/, its headers installed so that cdtls's
        // glue and this program find <bearssl.h>.
        const src = bearssl_src orelse @panic("-Dprovider=external needs -Dbearssl-src");
        const mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
        mod.addIncludePath(src.path(b, "inc"));
        mod.addIncludePath(src.path(b, "src"));
        var files: std.ArrayList([]const u8) = .empty;
        var dir = std.fs.cwd().openDir(src.path(b, "src").getPath(b), .{ .iterate = true }) catch @panic("cannot open BearSSL's src/");
        defer dir.close();
        var walker = dir.walk(b.allocator) catch @panic("OOM");
        while (walker.next() catch null) |e| {
            if (e.kind == .file and std.mem.endsWith(u8, e.basename, ".c"))
                files.append(b.allocator, b.dupe(e.path)) catch @panic("OOM");
        }
        std.mem.sort([]const u8, files.items, {}, struct {
            fn lt(_: void, x: []const u8, y: []const u8) bool {
                return std.mem.lessThan(u8, x, y);
            }
        }.lt);
        mod.addCSourceFiles(.{ .root = src.path(b, "src"), .files = files.items, .flags = &.{ "-std=c99", "-w" } });
        const bearssl = b.addLibrary(.{ .linkage = .static, .name = "bearssl", .root_module = mod });
        bearssl.installHeadersDirectory(src.path(b, "inc"), "", .{});
        cdtls.useProvider(lib, bearssl);
    }

    const exe_mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    exe_mod.addCSourceFiles(.{ .files = &.{"main.c"}, .flags = &.{ "-std=c11", "-Wall", "-Wextra", "-Werror" } });
    // cdtls's headers come with the artifact (installHeadersDirectory).
    exe_mod.linkLibrary(lib);
    // A system library does not travel inside libcdtls.a: named here, as
    // cdtls.pc's Libs.private names it.
    if (provider == .system) exe_mod.linkSystemLibrary("bearssl", .{});
    // cdtls's io module uses Winsock on Windows.
    if (target.result.os.tag == .windows) exe_mod.linkSystemLibrary("ws2_32", .{});
    const exe = b.addExecutable(.{ .name = "zig-consumer", .root_module = exe_mod });
    b.installArtifact(exe);

    const run = b.addRunArtifact(exe);
    b.step("run", "build and run the handshake").dependOn(&run.step);
}
