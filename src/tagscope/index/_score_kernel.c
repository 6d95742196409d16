/* Fused float16 -> float32 conversion and many-tag dot products, for tagscope.tags.scoring (and
   tagscope.index.flat: one query is one tag of weights q, no bias). It lives in `index`, the
   lower layer, so that both may use it.

   Scoring a dataset is logits = X @ W.T (+ b, / |x|) over millions of float16 rows and a few to
   a few dozen tags. BLAS needs float32 rows, so torch's path converts each block first and MKL's
   kernels, tuned for big square products, then run a 1- to 20-column product at a fraction of
   their speed. This kernel converts 48 rows at a time into an L2-resident buffer (F16C), then
   multiplies them by W in register tiles of 3 rows x 4 tags (12 AVX2 accumulators), so each
   loaded row serves four tags and each loaded tag three rows. bench/bench_tag_scoring.py measures
   it against torch's path and the read-once limit.

   A 512-bit path (AVX-512F, tiles of 6 rows x 4 tags) does the same with 16 floats a vector.
   Both are compiled for any x86-64 with per-function target attributes, so one binary serves
   every CPU: `levels()` says which paths this CPU runs (cpuid, and OS support for YMM/ZMM state
   by xgetbv), `logits_f16` takes the widest unless told, and scoring.py falls back to the torch
   path where none runs or where this module was not built (another architecture or compiler:
   then HAVE_KERNEL is 0). The GIL is released while it runs, so one Python thread per core
   scores a share of the rows. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>
#define TARGET __attribute__((target("avx2,fma,f16c")))
#define INLINE __attribute__((always_inline)) inline
#else
#define HAVE_KERNEL 0
#endif

#define BLOCK_ROWS 48 /* 48 x 512 floats = 96 KiB: stays in L2 between conversion and products */
#define TILE_ROWS 3
#define TILE_TAGS 4

#if HAVE_KERNEL

/* The widest path this CPU and OS run: 2 = AVX-512F (+ AVX2, FMA, F16C), 1 = AVX2, FMA and
   F16C, 0 = neither. */
static int cpu_level(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
              f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    unsigned int xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6) != 6) return 0; /* the OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((b >> 5) & 1)) return 0; /* AVX2 */
    /* AVX-512F, and the OS saves opmask and all of ZMM state (XCR0 bits 5-7). */
    return ((b >> 16) & 1) && (xcr0_lo & 0xE0) == 0xE0 ? 2 : 1;
}

/* Sum of each of four vectors: [sum a0, sum a1, sum a2, sum a3]. */
TARGET static INLINE __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* dots[r * ldo + t] = x_r . w_t for R rows of x and T rows of w (both padded to d8 floats).
   R and T are compile-time constants at every call, so the accumulators live in registers. */
TARGET static INLINE void tile(const float *x, const float *w, size_t d8, float *dots,
                               size_t ldo, const int R, const int T) {
    __m256 acc[TILE_ROWS][TILE_TAGS];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (size_t j = 0; j < d8; j += 8) {
        __m256 xv[TILE_ROWS];
        for (int r = 0; r < R; r++) xv[r] = _mm256_loadu_ps(x + r * d8 + j);
        for (int t = 0; t < T; t++) {
            const __m256 wv = _mm256_loadu_ps(w + t * d8 + j);
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_fmadd_ps(xv[r], wv, acc[r][t]);
        }
    }
    const __m256 z = _mm256_setzero_ps();
    for (int r = 0; r < R; r++) {
        float s[4];
        _mm_storeu_ps(s, hsum4(acc[r][0], T > 1 ? acc[r][1] : z, T > 2 ? acc[r][2] : z,
                               T > 3 ? acc[r][3] : z));
        for (int t = 0; t < T; t++) dots[r * ldo + t] = s[t];
    }
}

#define TILE_CASE(R, T) \
    case (R) * 8 + (T): tile(x, w, d8, dots, ldo, R, T); break

TARGET static void tile_any(const float *x, const float *w, size_t d8, float *dots, size_t ldo,
                            int R, int T) {
    switch (R * 8 + T) {
        TILE_CASE(3, 4); TILE_CASE(3, 3); TILE_CASE(3, 2); TILE_CASE(3, 1);
        TILE_CASE(2, 4); TILE_CASE(2, 3); TILE_CASE(2, 2); TILE_CASE(2, 1);
        TILE_CASE(1, 4); TILE_CASE(1, 3); TILE_CASE(1, 2); TILE_CASE(1, 1);
    }
}

/* Rows of float16 (d values each, row stride d) -> rows of d8 floats, zero-padded; with
   `sq`, also each row's sum of squares. */
TARGET static void convert_rows(const uint16_t *src, size_t rows, size_t d, size_t d8,
                                float *dst, float *sq) {
    const size_t full = d & ~(size_t)7;
    for (size_t r = 0; r < rows; r++) {
        const uint16_t *s = src + r * d;
        float *o = dst + r * d8;
        __m256 ss = _mm256_setzero_ps();
        for (size_t j = 0; j < full; j += 8) {
            const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + j)));
            _mm256_storeu_ps(o + j, v);
            if (sq) ss = _mm256_fmadd_ps(v, v, ss);
        }
        float tail = 0.0f;
        for (size_t j = full; j < d8; j++) {
            const float v = j < d ? _cvtsh_ss(s[j]) : 0.0f;
            o[j] = v;
            tail += v * v;
        }
        if (sq) {
            float parts[4];
            _mm_storeu_ps(parts, hsum4(ss, _mm256_setzero_ps(), _mm256_setzero_ps(),
                                       _mm256_setzero_ps()));
            sq[r] = parts[0] + tail;
        }
    }
}

/* out[i, t] = (x_i . w_t) / (normalize ? max(|x_i|, 1e-12) : 1) + b[t] for n rows. */
TARGET static int logits_f16(const uint16_t *X, size_t n, size_t d, const float *W,
                             const float *b, size_t k, int normalize, float *out) {
    const size_t d8 = (d + 7) & ~(size_t)7;
    float *wpad = calloc(k * d8, sizeof(float));
    float *xbuf = malloc(BLOCK_ROWS * d8 * sizeof(float));
    float sq[BLOCK_ROWS];
    if (!wpad || !xbuf) {
        free(wpad);
        free(xbuf);
        return -1;
    }
    for (size_t t = 0; t < k; t++) memcpy(wpad + t * d8, W + t * d, d * sizeof(float));
    for (size_t i0 = 0; i0 < n; i0 += BLOCK_ROWS) {
        const size_t rows = n - i0 < BLOCK_ROWS ? n - i0 : BLOCK_ROWS;
        convert_rows(X + i0 * d, rows, d, d8, xbuf, normalize ? sq : NULL);
        float *o = out + i0 * k;
        for (size_t r = 0; r < rows; r += TILE_ROWS) {
            const int R = (int)(rows - r < TILE_ROWS ? rows - r : TILE_ROWS);
            for (size_t t = 0; t < k; t += TILE_TAGS) {
                const int T = (int)(k - t < TILE_TAGS ? k - t : TILE_TAGS);
                tile_any(xbuf + r * d8, wpad + t * d8, d8, o + r * k + t, k, R, T);
            }
        }
        for (size_t r = 0; r < rows; r++) {
            const float inv = normalize ? 1.0f / fmaxf(sqrtf(sq[r]), 1e-12f) : 1.0f;
            for (size_t t = 0; t < k; t++) o[r * k + t] = o[r * k + t] * inv + b[t];
        }
    }
    free(wpad);
    free(xbuf);
    return 0;
}


/* ---- The 512-bit path (AVX-512F): the same algorithm, 16 floats a vector, tiles of 6 rows x
   4 tags (24 of the 32 ZMM registers accumulate; 6 x 4 beat 4 x 4, 4 x 5, 5 x 5 and 4 x 6 by
   5-10% at 20 and 50 tags on a Xeon with AVX-512). Compiled for every x86-64 like the AVX2 path
   and run only where cpu_level() finds AVX-512F and OS support for ZMM state. The loops are
   unrolled by pragma so that the accumulators stay in registers. */

#define TARGET512 __attribute__((target("avx512f,avx2,fma,f16c")))
#define TILE512_ROWS 6
#define TILE512_TAGS 4

/* A ZMM's two halves added: 8 floats whose sum is the vector's. */
TARGET512 static INLINE __m256 fold512(__m512 a) {
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    return _mm256_add_ps(_mm512_castps512_ps256(a), hi);
}

TARGET512 static INLINE void tile512(const float *x, const float *w, size_t d16, float *dots,
                                     size_t ldo, const int R, const int T) {
    __m512 acc[TILE512_ROWS][TILE512_TAGS];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (size_t j = 0; j < d16; j += 16) {
        __m512 xv[TILE512_ROWS];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_ps(x + r * d16 + j);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m512 wv = _mm512_loadu_ps(w + t * d16 + j);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(xv[r], wv, acc[r][t]);
        }
    }
    const __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        float s[4];
        _mm_storeu_ps(s, hsum4(fold512(acc[r][0]), T > 1 ? fold512(acc[r][1]) : z,
                               T > 2 ? fold512(acc[r][2]) : z, T > 3 ? fold512(acc[r][3]) : z));
        for (int t = 0; t < T; t++) dots[r * ldo + t] = s[t];
    }
}

#define TILE512_CASE(R, T) \
    case (R) * 8 + (T): tile512(x, w, d16, dots, ldo, R, T); break
#define TILE512_ROW_CASES(R) \
    TILE512_CASE(R, 4); TILE512_CASE(R, 3); TILE512_CASE(R, 2); TILE512_CASE(R, 1)

TARGET512 static void tile512_any(const float *x, const float *w, size_t d16, float *dots,
                                  size_t ldo, int R, int T) {
    switch (R * 8 + T) {
        TILE512_ROW_CASES(6); TILE512_ROW_CASES(5); TILE512_ROW_CASES(4);
        TILE512_ROW_CASES(3); TILE512_ROW_CASES(2); TILE512_ROW_CASES(1);
    }
}

TARGET512 static void convert_rows512(const uint16_t *src, size_t rows, size_t d, size_t d16,
                                      float *dst, float *sq) {
    const size_t full = d & ~(size_t)15;
    for (size_t r = 0; r < rows; r++) {
        const uint16_t *s = src + r * d;
        float *o = dst + r * d16;
        __m512 ss = _mm512_setzero_ps();
        for (size_t j = 0; j < full; j += 16) {
            const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + j)));
            _mm512_storeu_ps(o + j, v);
            if (sq) ss = _mm512_fmadd_ps(v, v, ss);
        }
        float tail = 0.0f;
        for (size_t j = full; j < d16; j++) {
            const float v = j < d ? _cvtsh_ss(s[j]) : 0.0f;
            o[j] = v;
            tail += v * v;
        }
        if (sq) sq[r] = _mm512_reduce_add_ps(ss) + tail;
    }
}

TARGET512 static int logits_f16_512(const uint16_t *X, size_t n, size_t d, const float *W,
                                    const float *b, size_t k, int normalize, float *out) {
    const size_t d16 = (d + 15) & ~(size_t)15;
    float *wpad = calloc(k * d16, sizeof(float));
    float *xbuf = malloc(BLOCK_ROWS * d16 * sizeof(float));
    float sq[BLOCK_ROWS];
    if (!wpad || !xbuf) {
        free(wpad);
        free(xbuf);
        return -1;
    }
    for (size_t t = 0; t < k; t++) memcpy(wpad + t * d16, W + t * d, d * sizeof(float));
    for (size_t i0 = 0; i0 < n; i0 += BLOCK_ROWS) {
        const size_t rows = n - i0 < BLOCK_ROWS ? n - i0 : BLOCK_ROWS;
        convert_rows512(X + i0 * d, rows, d, d16, xbuf, normalize ? sq : NULL);
        float *o = out + i0 * k;
        for (size_t r = 0; r < rows; r += TILE512_ROWS) {
            const int R = (int)(rows - r < TILE512_ROWS ? rows - r : TILE512_ROWS);
            for (size_t t = 0; t < k; t += TILE512_TAGS) {
                const int T = (int)(k - t < TILE512_TAGS ? k - t : TILE512_TAGS);
                tile512_any(xbuf + r * d16, wpad + t * d16, d16, o + r * k + t, k, R, T);
            }
        }
        for (size_t r = 0; r < rows; r++) {
            const float inv = normalize ? 1.0f / fmaxf(sqrtf(sq[r]), 1e-12f) : 1.0f;
            for (size_t t = 0; t < k; t++) o[r * k + t] = o[r * k + t] * inv + b[t];
        }
    }
    free(wpad);
    free(xbuf);
    return 0;
}

#endif /* HAVE_KERNEL */

static int level_cached = -1;

static int cpu_level_cached(void) {
#if HAVE_KERNEL
    if (level_cached < 0) level_cached = cpu_level();
    return level_cached;
#else
    return 0;
#endif
}

static PyObject *py_supported(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyBool_FromLong(cpu_level_cached() > 0);
}

static PyObject *py_levels(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    const int level = cpu_level_cached();
    if (level >= 2) return Py_BuildValue("(ss)", "avx512", "avx2");
    if (level == 1) return Py_BuildValue("(s)", "avx2");
    return PyTuple_New(0);
}

static PyObject *py_logits_f16(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer x, w, b, out;
    Py_ssize_t d;
    int normalize, level = 0;
    if (!PyArg_ParseTuple(args, "y*y*y*w*np|i", &x, &w, &b, &out, &d, &normalize, &level))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t f = (Py_ssize_t)sizeof(float);
    const Py_ssize_t k = b.len / f;
    const Py_ssize_t n = d > 0 ? x.len / (2 * d) : 0;
    const int best = cpu_level_cached();
    if (level == 0) level = best;
    if (best == 0) {
        PyErr_SetString(PyExc_RuntimeError, "this CPU lacks AVX2, FMA or F16C");
    } else if (level < 1 || level > best) {
        PyErr_Format(PyExc_ValueError, "level %d: this CPU runs levels 1 to %d", level, best);
    } else if (d <= 0 || k <= 0 || b.len != k * f || x.len != n * d * 2 || w.len != k * d * f ||
               out.len != n * k * f) {
        PyErr_Format(PyExc_ValueError,
                     "buffer sizes do not match: X %zd bytes, W %zd, b %zd, out %zd for d=%zd",
                     x.len, w.len, b.len, out.len, d);
    } else {
        int rc = 0;
#if HAVE_KERNEL
        Py_BEGIN_ALLOW_THREADS
        if (level == 2)
            rc = logits_f16_512(x.buf, (size_t)n, (size_t)d, w.buf, b.buf, (size_t)k, normalize,
                                out.buf);
        else
            rc = logits_f16(x.buf, (size_t)n, (size_t)d, w.buf, b.buf, (size_t)k, normalize,
                            out.buf);
        Py_END_ALLOW_THREADS
#endif
        if (rc != 0)
            PyErr_NoMemory();
        else
            result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&w);
    PyBuffer_Release(&b);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"supported", py_supported, METH_NOARGS, "Whether this CPU can run the kernel."},
    {"levels", py_levels, METH_NOARGS,
     "The instruction sets this CPU runs the kernel with, widest first: ('avx512', 'avx2'),\n"
     "('avx2',) or ()."},
    {"logits_f16", py_logits_f16, METH_VARARGS,
     "logits_f16(X, W, b, out, d, normalize, level=0): out = X @ W.T (/ |x|) + b.\n\n"
     "X: C-contiguous float16 rows of d values; W: float32 (k, d); b: float32 (k,);\n"
     "out: writable float32 (n, k); level: 1 AVX2, 2 AVX-512, 0 the widest this CPU runs.\n"
     "Releases the GIL."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_score_kernel",
    "Fused float16 conversion and many-tag dot products (AVX2/FMA/F16C, AVX-512F).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__score_kernel(void) { return PyModule_Create(&module); }
