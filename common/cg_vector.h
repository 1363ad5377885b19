/* cg_vector: CG_VECTOR marks a function made of plain loops that the compiler vectorises,
 * to be compiled twice on x86-64 GCC/Clang: for the baseline (SSE2) and for AVX2, the
 * dynamic loader picking the clone the CPU runs (glibc ifunc). Elsewhere it is nothing. Such
 * functions must give the same results in both clones (no FMA is enabled, so no contraction).
 * Build with -DCG_NO_TARGET_CLONES for ThreadSanitizer (its runtime is not up yet when the
 * loader runs the ifunc resolvers: the process crashes at start).
 * Not here: intrinsics; anything that needs a particular ISA to be correct. */
#ifndef CG_VECTOR_H
#define CG_VECTOR_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__NVCC__) &&      \
    !defined(CG_NO_TARGET_CLONES)
#if defined(__clang__)
#define CG_VECTOR __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CG_VECTOR                                                                                  \
    __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize")))
#endif
#else
#define CG_VECTOR
#endif

#endif
