/*
 * cdtls — which declarations are the library's ABI.
 *
 * The library is compiled with -fvisibility=hidden: a function is exported
 * from the shared library only if its declaration in include/cdtls/ carries
 * CDTLS_API. Every public declaration needs it; everything else (the
 * engine, record layer, parsers...) stays internal, so its names neither
 * become ABI nor collide with the application's (docs/architecture.md,
 * "Public API and symbols"; scripts/check-symbols.sh checks the built
 * libraries).
 *
 *   GCC, clang, zig cc (ELF, Mach-O): visibility("default").
 *   Windows: the DLL build (CDTLS_BUILDING and CDTLS_DLL_EXPORT, set by
 *   build.zig) exports with __declspec(dllexport); an application linking
 *   cdtls.dll may define CDTLS_DLL to import with __declspec(dllimport)
 *   (optional with MinGW, which resolves imports by itself); a static link
 *   needs nothing.
 *   Other compilers: nothing (all external symbols are visible).
 */
#ifndef CDTLS_EXPORT_H
#define CDTLS_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(CDTLS_BUILDING) && defined(CDTLS_DLL_EXPORT)
#define CDTLS_API __declspec(dllexport)
#elif !defined(CDTLS_BUILDING) && defined(CDTLS_DLL)
#define CDTLS_API __declspec(dllimport)
#else
#define CDTLS_API
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4 /* gcc, clang and zig cc define __GNUC__ */
#define CDTLS_API __attribute__((visibility("default")))
#else
#define CDTLS_API
#endif

#endif /* CDTLS_EXPORT_H */
