/* clang_compat.h — force-included (-include) into every file of the fuzz build by scripts/fuzz.
 * clang 14 (Debian 12) names a target_clones function's ifunc "<name>.ifunc", so calls from other
 * files to "<name>" do not link. The fuzz build needs no CPU dispatch: drop the attribute there
 * (__attribute__(()) is valid). */
#if defined(__clang__) && __clang_major__ < 15
#define target_clones(...)
#endif
