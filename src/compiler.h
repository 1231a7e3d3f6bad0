/* compiler.h — the few GCC extensions the kernels use, spelled so that clang (the fuzz build)
 * compiles them too. */
#ifndef CNN_COMPILER_H
#define CNN_COMPILER_H

/* Per-function optimisation options (GCC's optimize attribute). clang has no such attribute;
 * what the kernels ask for is its default already (multiply-adds within an expression are
 * fused, floating-point exceptions are not modelled), so there it is nothing. Use inside
 * __attribute__((...)) after another attribute: target(...), CNN_OPTIMIZE("...") */
#if defined(__clang__)
#define CNN_OPTIMIZE(...) unused
#else
#define CNN_OPTIMIZE(...) optimize(__VA_ARGS__)
#endif

/* The CPU has the x86-64-v4 (AVX-512 F/BW/CD/DQ/VL) features; GCC's "x86-64-v4" level name is
 * not known to clang's __builtin_cpu_supports. */
#define CNN_CPU_X86_64_V4()                                                                        \
    (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&                   \
     __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&                  \
     __builtin_cpu_supports("avx512vl"))

#endif
