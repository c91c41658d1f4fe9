/* One-read fingerprints of CPU memory, for freezelint's auditor (fingerprint.py).

   A fingerprint is two sums modulo 2**64 over a tensor's bits read as a sequence of 64-bit
   integers x_0, x_1, ...: S = sum x_i and W = sum x_i * (i + 1). torch computes them with two
   reductions of a (rows, 64) view, that is two reads of the tensor; here one read does both, on
   up to `threads` threads, with the GIL released. fingerprint.py falls back to torch when this
   module was not built, and its tests hold both to the same definition.

   W comes without multiplications: with lanes of L consecutive items, each lane keeps its sum
   s and the sum t of its running sums, so t == sum_k x_k * (K - k) over the lane's K items;
   then sum_k k * x_k == K * s - t, and position i == L * k + lane. Unsigned arithmetic wraps
   modulo 2**64 as the definition does. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32) && (defined(__GNUC__) || defined(__clang__)) /* pthreads and __atomic */
#include <pthread.h>
#define FOLD_THREADS 1
#else
#define FOLD_THREADS 0
#endif

#if FOLD_THREADS && defined(__linux__)
#include <dlfcn.h>
#define FOLD_GOMP 1
#else
#define FOLD_GOMP 0
#endif

/* One row of the segment table fingerprint.py builds: `n` items from address `addr`, each
   `kind` bytes (8: a 64-bit word; 1, 2, 4: an integer widened to 64 bits, sign-extended when
   `is_signed`), the first at position `first` of the sequence of fingerprint `slot`. */
enum { ADDR, COUNT, KIND, SIGNED, FIRST, SLOT, FIELDS };

typedef struct {
    const unsigned char *base;
    int64_t n, kind, is_signed, first, slot;
    uint64_t s, w; /* results */
} piece;

#define LANES 8

#if defined(__GNUC__) || defined(__clang__)
typedef uint64_t v4 __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void fold_words(const unsigned char *p, int64_t n, uint64_t *s_out, uint64_t *w_out) {
    v4 s0 = {0}, s1 = {0}, t0 = {0}, t1 = {0};
    int64_t blocks = n / LANES;
    for (int64_t k = 0; k < blocks; k++) {
        v4 a, b;
        memcpy(&a, p + 64 * k, 32); /* memcpy: the words need not be aligned */
        memcpy(&b, p + 64 * k + 32, 32);
        s0 += a;
        s1 += b;
        t0 += s0;
        t1 += s1;
    }
    uint64_t s[LANES], t[LANES];
    for (int l = 0; l < 4; l++) {
        s[l] = s0[l];
        s[l + 4] = s1[l];
        t[l] = t0[l];
        t[l + 4] = t1[l];
    }
#else
static void fold_words(const unsigned char *p, int64_t n, uint64_t *s_out, uint64_t *w_out) {
    uint64_t s[LANES] = {0}, t[LANES] = {0};
    int64_t blocks = n / LANES;
    for (int64_t k = 0; k < blocks; k++) {
        for (int l = 0; l < LANES; l++) {
            uint64_t x;
            memcpy(&x, p + 8 * (LANES * k + l), 8);
            s[l] += x;
            t[l] += s[l];
        }
    }
#endif
    uint64_t sum = 0, weighted = 0, K = (uint64_t)blocks;
    for (int l = 0; l < LANES; l++) {
        sum += s[l];
        weighted += (uint64_t)LANES * (K * s[l] - t[l]) + (uint64_t)(l + 1) * s[l];
    }
    for (int64_t i = blocks * LANES; i < n; i++) {
        uint64_t x;
        memcpy(&x, p + 8 * i, 8);
        sum += x;
        weighted += x * (uint64_t)(i + 1);
    }
    *s_out = sum;
    *w_out = weighted;
}

static uint64_t widen(const unsigned char *p, int64_t kind, int64_t is_signed) {
    switch (kind) {
    case 1: { uint8_t v = *p; return is_signed ? (uint64_t)(int64_t)(int8_t)v : v; }
    case 2: { uint16_t v; memcpy(&v, p, 2); return is_signed ? (uint64_t)(int64_t)(int16_t)v : v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return is_signed ? (uint64_t)(int64_t)(int32_t)v : v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void fold_piece(piece *pc) {
    uint64_t s = 0, w = 0;
    if (pc->kind == 8) {
        fold_words(pc->base, pc->n, &s, &w);
    } else {
        for (int64_t i = 0; i < pc->n; i++) {
            uint64_t x = widen(pc->base + pc->kind * i, pc->kind, pc->is_signed);
            s += x;
            w += x * (uint64_t)(i + 1);
        }
    }
    /* positions in the piece start at 1; in the sequence at first + 1 */
    pc->s = s;
    pc->w = w + (uint64_t)pc->first * s;
}

/* Pieces are at most this many bytes; threads take the next one as they finish one, so a
   thread the scheduler holds back delays the fold by one piece at most, not by a fixed share. */
#define PIECE_BYTES (1 << 20)

static Py_ssize_t count_pieces(const int64_t *rows, Py_ssize_t nseg) {
    Py_ssize_t np = 0;
    for (Py_ssize_t j = 0; j < nseg; j++) {
        const int64_t *r = rows + j * FIELDS;
        int64_t per = PIECE_BYTES / r[KIND];
        np += (Py_ssize_t)((r[COUNT] + per - 1) / per);
    }
    return np;
}

static void chop(const int64_t *rows, Py_ssize_t nseg, piece *pieces) {
    Py_ssize_t np = 0;
    for (Py_ssize_t j = 0; j < nseg; j++) {
        const int64_t *r = rows + j * FIELDS;
        int64_t per = PIECE_BYTES / r[KIND];
        for (int64_t start = 0; start < r[COUNT]; start += per) {
            piece *pc = &pieces[np++];
            pc->base = (const unsigned char *)(uintptr_t)r[ADDR] + start * r[KIND];
            pc->n = r[COUNT] - start < per ? r[COUNT] - start : per;
            pc->kind = r[KIND];
            pc->is_signed = r[SIGNED];
            pc->first = r[FIRST] + start; /* positions carry on across a segment's pieces */
            pc->slot = r[SLOT];
        }
    }
}

typedef struct {
    piece *pieces;
    Py_ssize_t np;
    Py_ssize_t next; /* the next piece to take, shared by the threads */
} work;

static void *take_pieces(void *arg) {
    work *wk = (work *)arg;
    for (;;) {
#if FOLD_THREADS
        Py_ssize_t i = __atomic_fetch_add(&wk->next, 1, __ATOMIC_RELAXED);
#else
        Py_ssize_t i = wk->next++;
#endif
        if (i >= wk->np)
            return NULL;
        fold_piece(&wk->pieces[i]);
    }
}

/* Take every piece on `threads` threads: this one and threads started for the call. */
static void run_threads(work *wk, int threads) {
#if FOLD_THREADS
    pthread_t ids[64];
    int started = 0;
    for (int i = 1; i < threads && started < 63; i++) {
        if (pthread_create(&ids[started], NULL, take_pieces, wk) != 0)
            break; /* no thread: this one takes what is left */
        started++;
    }
    take_pieces(wk);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
#else
    (void)threads;
    take_pieces(wk);
#endif
}

#if FOLD_GOMP
/* torch's CPU ops run on libgomp's thread pool, whose workers spin for a while after each op.
   Threads of our own, started right after a forward or a step, wait for a CPU those spinning
   workers hold (on 2 CPUs a second fold thread then gained nothing: 4.5 ms a pass of resnet50
   against 2.3 ms on the pool's own workers, measured). So when the process has libgomp loaded
   (torch's pip wheels do), the fold runs on that pool: GOMP_parallel is the entry point every
   `#pragma omp parallel` compiles to, looked up in the loaded library without linking it (no
   OpenMP build flag, no new dependency; a torch without libgomp gets pthreads). Not in a child
   forked after the pool existed: its workers did not survive the fork. */
typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
static gomp_parallel_fn gomp_parallel; /* found once, from the first fold after torch loaded it */
static int forked;

static void after_fork_in_child(void) { forked = 1; }

static gomp_parallel_fn torch_pool(void) {
    if (forked)
        return NULL;
    if (!gomp_parallel) {
        void *lib = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD); /* only if already loaded */
        if (lib) {
            gomp_parallel = (gomp_parallel_fn)dlsym(lib, "GOMP_parallel");
            dlclose(lib); /* the handle only counted a reference: the library stays, as torch holds it */
        }
    }
    return gomp_parallel;
}

static void take_pieces_on_pool(void *arg) { take_pieces(arg); }
#endif

/* Fold every segment into sums[2 * slot], sums[2 * slot + 1]. Returns -1 when out of memory.
   Called without the GIL. */
static int run_fold(const int64_t *rows, Py_ssize_t nseg, uint64_t *sums, int threads, int use_pool) {
    work wk = {NULL, count_pieces(rows, nseg), 0};
    wk.pieces = (piece *)calloc((size_t)wk.np + 1, sizeof(piece));
    if (!wk.pieces)
        return -1;
    chop(rows, nseg, wk.pieces);
#if FOLD_GOMP
    gomp_parallel_fn pool = threads > 1 && use_pool ? torch_pool() : NULL;
    if (pool)
        pool(take_pieces_on_pool, &wk, (unsigned)threads, 0);
    else
        run_threads(&wk, threads);
#else
    (void)use_pool;
    run_threads(&wk, threads);
#endif
    for (Py_ssize_t i = 0; i < wk.np; i++) {
        sums[2 * wk.pieces[i].slot] += wk.pieces[i].s;
        sums[2 * wk.pieces[i].slot + 1] += wk.pieces[i].w;
    }
    free(wk.pieces);
    return 0;
}

static int valid(const int64_t *rows, Py_ssize_t nseg, Py_ssize_t nslots) {
    for (Py_ssize_t j = 0; j < nseg; j++) {
        const int64_t *r = rows + j * FIELDS;
        int64_t kind = r[KIND];
        if (r[SLOT] < 0 || r[SLOT] >= nslots || r[COUNT] < 0 || !(kind == 1 || kind == 2 || kind == 4 || kind == 8))
            return 0;
    }
    return 1;
}

static PyObject *fold(PyObject *self, PyObject *args) {
    Py_buffer table, out;
    int threads, use_pool = 1, status = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*i|p", &table, &out, &threads, &use_pool))
        return NULL;
    const Py_ssize_t row_bytes = FIELDS * (Py_ssize_t)sizeof(int64_t), slot_bytes = 2 * (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t nseg = table.len / row_bytes, nslots = out.len / slot_bytes;
    if (table.len % row_bytes || out.len % slot_bytes || !valid((const int64_t *)table.buf, nseg, nslots)) {
        PyErr_SetString(PyExc_ValueError, "fold: malformed segment table or output buffer");
        status = -1;
    } else {
        if (threads < 1 || !FOLD_THREADS)
            threads = 1;
        if (threads > 64)
            threads = 64;
        Py_BEGIN_ALLOW_THREADS
        status = run_fold((const int64_t *)table.buf, nseg, (uint64_t *)out.buf, threads, use_pool);
        Py_END_ALLOW_THREADS
        if (status)
            PyErr_NoMemory();
    }
    PyBuffer_Release(&table);
    PyBuffer_Release(&out);
    if (status)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *on_torch_pool(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
#if FOLD_GOMP
    if (torch_pool())
        Py_RETURN_TRUE;
#endif
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS,
     "fold(table, out, threads, use_pool=True): add each segment's (sum, weighted sum) into\n"
     "out[2*slot : 2*slot+2], on torch's OpenMP pool where it can (use_pool=False: threads of its own)."},
    {"on_torch_pool", on_torch_pool, METH_NOARGS,
     "Whether a fold on several threads runs on the OpenMP pool torch's CPU ops use (libgomp loaded)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fold", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fold(void) {
#if FOLD_GOMP
    pthread_atfork(NULL, NULL, after_fork_in_child);
#endif
    return PyModule_Create(&module);
}
