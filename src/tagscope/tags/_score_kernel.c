/* Fused float16 -> float32 conversion and many-tag dot products, for tagscope.tags.scoring.

   Scoring a dataset is logits = X @ W.T (+ b, / |x|) over millions of float16 rows and a few to
   a few dozen tags. BLAS needs float32 rows, so torch's path converts each block first and MKL's
   kernels, tuned for big square products, then run a 1- to 20-column product at a fraction of
   their speed. This kernel converts 48 rows at a time into an L2-resident buffer (F16C), then
   multiplies them by W in register tiles of 3 rows x 4 tags (12 AVX2 accumulators), so each
   loaded row serves four tags and each loaded tag three rows. bench/bench_tag_scoring.py measures
   it against torch's path and the read-once limit.

   Compiled for any x86-64 with per-function target attributes; `supported()` checks the CPU
   (AVX2, FMA, F16C and OS support for YMM state) at run time, and scoring.py falls back to the
   torch path where it is False or where this module was not built (another architecture or
   compiler: then HAVE_KERNEL is 0). The GIL is released while it runs, so one Python thread per
   core scores a share of the rows. */

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

static int cpu_supported(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
              f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    unsigned int xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6) != 6) return 0; /* the OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1; /* AVX2 */
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

#endif /* HAVE_KERNEL */

static int supported_cached = -1;

static int is_supported(void) {
#if HAVE_KERNEL
    if (supported_cached < 0) supported_cached = cpu_supported();
    return supported_cached;
#else
    return 0;
#endif
}

static PyObject *py_supported(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyBool_FromLong(is_supported());
}

static PyObject *py_logits_f16(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer x, w, b, out;
    Py_ssize_t d;
    int normalize;
    if (!PyArg_ParseTuple(args, "y*y*y*w*np", &x, &w, &b, &out, &d, &normalize)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t f = (Py_ssize_t)sizeof(float);
    const Py_ssize_t k = b.len / f;
    const Py_ssize_t n = d > 0 ? x.len / (2 * d) : 0;
    if (!is_supported()) {
        PyErr_SetString(PyExc_RuntimeError, "this CPU lacks AVX2, FMA or F16C");
    } else if (d <= 0 || k <= 0 || b.len != k * f || x.len != n * d * 2 || w.len != k * d * f ||
               out.len != n * k * f) {
        PyErr_Format(PyExc_ValueError,
                     "buffer sizes do not match: X %zd bytes, W %zd, b %zd, out %zd for d=%zd",
                     x.len, w.len, b.len, out.len, d);
    } else {
        int rc = 0;
#if HAVE_KERNEL
        Py_BEGIN_ALLOW_THREADS
        rc = logits_f16(x.buf, (size_t)n, (size_t)d, w.buf, b.buf, (size_t)k, normalize, out.buf);
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
    {"logits_f16", py_logits_f16, METH_VARARGS,
     "logits_f16(X, W, b, out, d, normalize): out = X @ W.T (/ |x|) + b.\n\n"
     "X: C-contiguous float16 rows of d values; W: float32 (k, d); b: float32 (k,);\n"
     "out: writable float32 (n, k). Releases the GIL."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_score_kernel",
    "Fused float16 conversion and many-tag dot products (AVX2/FMA/F16C).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__score_kernel(void) { return PyModule_Create(&module); }
