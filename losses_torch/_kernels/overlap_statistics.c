/* Overlap statistics of class probabilities against integer labels or
 * dense targets, and their gradient, in one pass over the inputs each way.
 *
 * Layout: probabilities (N, C, S) with the S positions of one class
 * contiguous (sample stride sn, class stride sc), labels and the optional
 * 0/1 position mask (N, S) contiguous.  Per sample n and class c:
 *   I = sum_s p m [label = c],  P = sum_s p m  (p^2 m when squared),
 *   G = sum_s m [label = c].
 * Backward: dp = m (dL/dP (2p when squared) + dL/dI [label = c]).
 * The one-hot encoding of the labels is never stored: each class compares
 * the labels with its index inside the loop.
 *
 * Dense targets g (N, C, S), the probabilities' layout: I = sum_s p g,
 * P = sum_s p (p^2), G = sum_s g (g^2); dp = dL/dP (2p) + dL/dI g.
 *
 * Given logits x, the forward writes p = softmax(x) over the classes, a
 * block at a time: exp(x - max) for every class, then each class's row is
 * scaled by 1 / sum and summed while it is in L1; with
 * softmax set, the backward returns dx = p (dp - sum_c p dp): the softmax's
 * own backward fused into the same pass, dp never stored.
 *
 * Compiled twice, with SCALAR float and double (SUFFIX f32 / f64).  Sums run
 * in SCALAR within a block of positions (vector lanes) and in double across
 * blocks.  Blocks run in parallel on OpenMP threads when built with -fopenmp
 * against the OpenMP runtime PyTorch has loaded, so they are PyTorch's own
 * worker threads (a second runtime's threads would compete with PyTorch's
 * busy-waiting ones for the same cores).  Each block's sums go to a slot of
 * their own and the slots are added in block order afterwards: the result
 * does not depend on the number of threads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JOIN(a, b) a##_##b
#define NAME(a, b) JOIN(a, b)
#define BLOCK 4096
/* Below this many probabilities a fork-join costs more than it saves. */
#define PARALLEL_MINIMUM 65536

typedef struct {
    int softmax; /* backward: the gradient w.r.t. the logits of p = softmax(x) */
    const SCALAR *probs;
    const SCALAR *logits; /* forward: write probs = softmax(logits) first; NULL: probs given */
    const int64_t *labels; /* NULL: dense targets */
    const SCALAR *targets;
    const SCALAR *mask; /* NULL: every position counts */
    int64_t samples, classes, positions, sample_stride, class_stride;
    int squared;
    double *out; /* forward: (3, N, C), I then P then G */
    const SCALAR *grad_intersection; /* backward: (N, C) */
    const SCALAR *grad_pred;
    SCALAR *grad; /* backward output, the probabilities' strides */
    int64_t blocks_per_sample, blocks;
} NAME(job, SUFFIX);

typedef NAME(job, SUFFIX) job_t;

/* The block's labels as int32 (classes fit; anything outside [0, C) matches
 * no class): the class loops then compare 16 lanes at a time, not 8.
 * Returns how many counted positions (mask nonzero) hold such a label. */
static inline int64_t NAME(pack, SUFFIX)(const int64_t *restrict labels, const SCALAR *restrict mask, int64_t length,
                                         int64_t classes, int32_t *restrict out) {
    int64_t outside = 0;
#pragma omp simd reduction(+ : outside)
    for (int64_t s = 0; s < length; ++s) {
        const int inside = labels[s] >= 0 && labels[s] < classes;
        out[s] = inside ? (int32_t)labels[s] : -1;
        outside += !inside && (mask == NULL || mask[s] != 0);
    }
    return outside;
}
#define pack_labels NAME(pack, SUFFIX)

/* exp(x) for x <= 0, vectorisable (libm's exp is not, without -ffast-math):
 * x = n ln2 + r, |r| <= ln2/2, with ln2 split in two (Cody-Waite); e^r by
 * its Taylor series to r^7 (float) or r^12 (double), truncation below half
 * an ulp; 2^n written into the exponent bits.  Below the smallest normal
 * number the result is 0 (the subnormal range, which flushes to zero in
 * many vector units anyway). */
#if BITS == 32
typedef uint32_t bits_t;
#define EXP_LOWEST -87.3f /* exp of it: about the smallest normal float */
#define ROUNDING 0x1.8p23f /* adding it rounds to an integer, kept in the low mantissa bits */
#define MANTISSA_BITS 23
#define EXPONENT_BIAS 127
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float INVERSE_FACTORIALS[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1, 1};
#else
typedef uint64_t bits_t;
#define EXP_LOWEST -708.0
#define ROUNDING 0x1.8p52
#define MANTISSA_BITS 52
#define EXPONENT_BIAS 1023
static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
static const double INVERSE_FACTORIALS[] = {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880,
                                            1.0 / 40320,     1.0 / 5040,     1.0 / 720,     1.0 / 120,
                                            1.0 / 24,        1.0 / 6,        0.5,           1,
                                            1};
#endif
#define TERMS ((int)(sizeof INVERSE_FACTORIALS / sizeof INVERSE_FACTORIALS[0]))

static inline SCALAR NAME(exp_nonpositive, SUFFIX)(SCALAR x) {
    const int tiny = x < EXP_LOWEST;
    x = tiny ? EXP_LOWEST : x;
    const SCALAR t = x * (SCALAR)1.4426950408889634 + ROUNDING, n = t - ROUNDING;
    const SCALAR r = (x - n * LN2_HI) - n * LN2_LO;
    SCALAR e = INVERSE_FACTORIALS[0];
    for (int k = 1; k < TERMS; ++k) e = e * r + INVERSE_FACTORIALS[k];
    bits_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << MANTISSA_BITS) + ((bits_t)EXPONENT_BIAS << MANTISSA_BITS);
    SCALAR scale;
    memcpy(&scale, &bits, sizeof scale);
    return tiny ? (SCALAR)0 : e * scale;
}

/* probs = exp(logits - max) over the classes for one block of positions,
 * and inverse = 1 / their sum per position: the softmax once each class's
 * row is scaled (normalise_row, while the row is in L1 for its sums). */
static void NAME(softmax_block, SUFFIX)(const job_t *job, int64_t n, int64_t start, int64_t length,
                                        SCALAR *restrict inverse) {
    SCALAR top[BLOCK], *restrict total = inverse;
    const int64_t first = n * job->sample_stride + start;
    for (int64_t s = 0; s < length; ++s) top[s] = job->logits[first + s];
    for (int64_t c = 1; c < job->classes; ++c) {
        const SCALAR *restrict x = job->logits + first + c * job->class_stride;
#pragma omp simd
        for (int64_t s = 0; s < length; ++s) top[s] = x[s] > top[s] ? x[s] : top[s];
    }
    for (int64_t s = 0; s < length; ++s) total[s] = 0;
    for (int64_t c = 0; c < job->classes; ++c) {
        const SCALAR *restrict x = job->logits + first + c * job->class_stride;
        SCALAR *restrict p = (SCALAR *)job->probs + first + c * job->class_stride;
#pragma omp simd
        for (int64_t s = 0; s < length; ++s) {
            p[s] = NAME(exp_nonpositive, SUFFIX)(x[s] - top[s]);
            total[s] += p[s];
        }
    }
#pragma omp simd
    for (int64_t s = 0; s < length; ++s) total[s] = 1 / total[s];
}

static inline void NAME(normalise_row, SUFFIX)(SCALAR *restrict p, const SCALAR *restrict inverse, int64_t length) {
#pragma omp simd
    for (int64_t s = 0; s < length; ++s) p[s] *= inverse[s];
}

/* dx = p (dp - sum_c p dp) for one block, dp the statistics' gradient
 * (recomputed in the second pass rather than stored). */
#define STATISTICS_GRADIENT(s) \
    ((squared ? twice * p[s] : per_class) + (labels[s] == c ? at_label : (SCALAR)0)) * (mask ? mask[s] : (SCALAR)1)

static void NAME(softmax_backward_block, SUFFIX)(const job_t *job, int64_t n, int64_t start, int64_t length,
                                                 const int32_t *restrict labels, const SCALAR *restrict mask) {
    SCALAR inner[BLOCK];
    const int squared = job->squared;
    for (int64_t s = 0; s < length; ++s) inner[s] = 0;
    for (int32_t c = 0; c < job->classes; ++c) {
        const SCALAR *restrict p = job->probs + n * job->sample_stride + c * job->class_stride + start;
        const SCALAR per_class = job->grad_pred[n * job->classes + c], twice = 2 * per_class;
        const SCALAR at_label = job->grad_intersection[n * job->classes + c];
#pragma omp simd
        for (int64_t s = 0; s < length; ++s) inner[s] += p[s] * STATISTICS_GRADIENT(s);
    }
    for (int32_t c = 0; c < job->classes; ++c) {
        const int64_t offset = n * job->sample_stride + c * job->class_stride + start;
        const SCALAR *restrict p = job->probs + offset;
        SCALAR *restrict grad = job->grad + offset;
        const SCALAR per_class = job->grad_pred[n * job->classes + c], twice = 2 * per_class;
        const SCALAR at_label = job->grad_intersection[n * job->classes + c];
#pragma omp simd
        for (int64_t s = 0; s < length; ++s) grad[s] = p[s] * (STATISTICS_GRADIENT(s) - inner[s]);
    }
}

/* slot: the block's (3, C) sums, I then P then G. */
static int64_t NAME(forward_block, SUFFIX)(const job_t *job, int64_t block, double *restrict slot) {
    const int64_t n = block / job->blocks_per_sample;
    const int64_t start = (block % job->blocks_per_sample) * BLOCK;
    const int64_t length = job->positions - start < BLOCK ? job->positions - start : BLOCK;
    const SCALAR *restrict mask = job->mask ? job->mask + n * job->positions + start : NULL;
    SCALAR inverse[BLOCK];
    if (job->logits) NAME(softmax_block, SUFFIX)(job, n, start, length, inverse);
    int32_t labels[BLOCK];
    const int64_t outside = pack_labels(job->labels + n * job->positions + start, mask, length, job->classes, labels);
    for (int32_t c = 0; c < job->classes; ++c) {
        const SCALAR *restrict p = job->probs + n * job->sample_stride + c * job->class_stride + start;
        if (job->logits) NAME(normalise_row, SUFFIX)((SCALAR *)p, inverse, length);
        SCALAR inter = 0, volume = 0, count = 0;
        if (mask == NULL && !job->squared) {
#pragma omp simd reduction(+ : inter, volume, count)
            for (int64_t s = 0; s < length; ++s) {
                SCALAR hit = labels[s] == c ? (SCALAR)1 : (SCALAR)0;
                inter += p[s] * hit;
                volume += p[s];
                count += hit;
            }
        } else if (mask == NULL) {
#pragma omp simd reduction(+ : inter, volume, count)
            for (int64_t s = 0; s < length; ++s) {
                SCALAR hit = labels[s] == c ? (SCALAR)1 : (SCALAR)0;
                inter += p[s] * hit;
                volume += p[s] * p[s];
                count += hit;
            }
        } else {
            const int squared = job->squared;
#pragma omp simd reduction(+ : inter, volume, count)
            for (int64_t s = 0; s < length; ++s) {
                SCALAR hit = labels[s] == c ? mask[s] : (SCALAR)0;
                SCALAR q = mask[s] * p[s];
                inter += p[s] * hit;
                volume += squared ? q * p[s] : q;
                count += hit;
            }
        }
        slot[c] = inter;
        slot[job->classes + c] = volume;
        slot[2 * job->classes + c] = count;
    }
    return outside;
}

static void NAME(backward_block, SUFFIX)(const job_t *job, int64_t block) {
    const int64_t n = block / job->blocks_per_sample;
    const int64_t start = (block % job->blocks_per_sample) * BLOCK;
    const int64_t length = job->positions - start < BLOCK ? job->positions - start : BLOCK;
    const SCALAR *restrict mask = job->mask ? job->mask + n * job->positions + start : NULL;
    int32_t labels[BLOCK];
    pack_labels(job->labels + n * job->positions + start, mask, length, job->classes, labels);
    if (job->softmax) {
        NAME(softmax_backward_block, SUFFIX)(job, n, start, length, labels, mask);
        return;
    }
    for (int32_t c = 0; c < job->classes; ++c) {
        const int64_t offset = n * job->sample_stride + c * job->class_stride + start;
        const SCALAR *restrict p = job->probs + offset;
        SCALAR *restrict grad = job->grad + offset;
        const SCALAR per_class = job->grad_pred[n * job->classes + c];
        const SCALAR at_label = job->grad_intersection[n * job->classes + c];
        if (job->squared) {
            const SCALAR twice = 2 * per_class;
#pragma omp simd
            for (int64_t s = 0; s < length; ++s) {
                SCALAR g = twice * p[s] + (labels[s] == c ? at_label : (SCALAR)0);
                grad[s] = mask ? g * mask[s] : g;
            }
        } else if (mask == NULL) {
#pragma omp simd
            for (int64_t s = 0; s < length; ++s) grad[s] = per_class + (labels[s] == c ? at_label : (SCALAR)0);
        } else {
#pragma omp simd
            for (int64_t s = 0; s < length; ++s)
                grad[s] = mask[s] * (per_class + (labels[s] == c ? at_label : (SCALAR)0));
        }
    }
}


/* Dense targets: the same three sums and their gradient, g read where the
 * labels were compared. */
#define DENSE_GRADIENT(s) ((squared ? twice * p[s] : per_class) + at_label * g[s])

static void NAME(dense_forward_block, SUFFIX)(const job_t *job, int64_t block, double *restrict slot) {
    const int64_t n = block / job->blocks_per_sample;
    const int64_t start = (block % job->blocks_per_sample) * BLOCK;
    const int64_t length = job->positions - start < BLOCK ? job->positions - start : BLOCK;
    SCALAR inverse[BLOCK];
    if (job->logits) NAME(softmax_block, SUFFIX)(job, n, start, length, inverse);
    for (int64_t c = 0; c < job->classes; ++c) {
        const int64_t offset = n * job->sample_stride + c * job->class_stride + start;
        const SCALAR *restrict p = job->probs + offset;
        const SCALAR *restrict g = job->targets + offset;
        if (job->logits) NAME(normalise_row, SUFFIX)((SCALAR *)p, inverse, length);
        SCALAR inter = 0, volume = 0, count = 0;
        if (job->squared) {
#pragma omp simd reduction(+ : inter, volume, count)
            for (int64_t s = 0; s < length; ++s) {
                inter += p[s] * g[s];
                volume += p[s] * p[s];
                count += g[s] * g[s];
            }
        } else {
#pragma omp simd reduction(+ : inter, volume, count)
            for (int64_t s = 0; s < length; ++s) {
                inter += p[s] * g[s];
                volume += p[s];
                count += g[s];
            }
        }
        slot[c] = inter;
        slot[job->classes + c] = volume;
        slot[2 * job->classes + c] = count;
    }
}

static void NAME(dense_backward_block, SUFFIX)(const job_t *job, int64_t block) {
    const int64_t n = block / job->blocks_per_sample;
    const int64_t start = (block % job->blocks_per_sample) * BLOCK;
    const int64_t length = job->positions - start < BLOCK ? job->positions - start : BLOCK;
    const int squared = job->squared;
    SCALAR inner[BLOCK];
    if (job->softmax) {
        for (int64_t s = 0; s < length; ++s) inner[s] = 0;
        for (int64_t c = 0; c < job->classes; ++c) {
            const int64_t offset = n * job->sample_stride + c * job->class_stride + start;
            const SCALAR *restrict p = job->probs + offset;
            const SCALAR *restrict g = job->targets + offset;
            const SCALAR per_class = job->grad_pred[n * job->classes + c], twice = 2 * per_class;
            const SCALAR at_label = job->grad_intersection[n * job->classes + c];
#pragma omp simd
            for (int64_t s = 0; s < length; ++s) inner[s] += p[s] * DENSE_GRADIENT(s);
        }
    }
    for (int64_t c = 0; c < job->classes; ++c) {
        const int64_t offset = n * job->sample_stride + c * job->class_stride + start;
        const SCALAR *restrict p = job->probs + offset;
        const SCALAR *restrict g = job->targets + offset;
        SCALAR *restrict grad = job->grad + offset;
        const SCALAR per_class = job->grad_pred[n * job->classes + c], twice = 2 * per_class;
        const SCALAR at_label = job->grad_intersection[n * job->classes + c];
        if (job->softmax) {
#pragma omp simd
            for (int64_t s = 0; s < length; ++s) grad[s] = p[s] * (DENSE_GRADIENT(s) - inner[s]);
        } else {
#pragma omp simd
            for (int64_t s = 0; s < length; ++s) grad[s] = DENSE_GRADIENT(s);
        }
    }
}

/* Returns the number of counted positions whose label is outside [0, C), or
 * -1 when the forward's block slots could not be allocated. */
static int64_t NAME(run, SUFFIX)(const job_t *job, int backward) {
    const int parallel = job->blocks > 1 && job->samples * job->classes * job->positions >= PARALLEL_MINIMUM;
    const int64_t width = 3 * job->classes;
    (void)parallel; /* unused without -fopenmp */
    if (backward) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
        for (int64_t block = 0; block < job->blocks; ++block) {
            if (job->labels == NULL)
                NAME(dense_backward_block, SUFFIX)(job, block);
            else
                NAME(backward_block, SUFFIX)(job, block);
        }
        return 0;
    }
    double *slots = malloc((size_t)(job->blocks * width) * sizeof(double));
    if (slots == NULL && job->blocks > 0) return -1;
    int64_t outside = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) reduction(+ : outside) if (parallel)
#endif
    for (int64_t block = 0; block < job->blocks; ++block) {
        if (job->labels == NULL)
            NAME(dense_forward_block, SUFFIX)(job, block, slots + block * width);
        else
            outside += NAME(forward_block, SUFFIX)(job, block, slots + block * width);
    }
    const int64_t plane = job->samples * job->classes;
    for (int64_t block = 0; block < job->blocks; ++block) {
        const double *slot = slots + block * width;
        double *out = job->out + (block / job->blocks_per_sample) * job->classes;
        for (int64_t c = 0; c < job->classes; ++c) {
            out[c] += slot[c];
            out[plane + c] += slot[job->classes + c];
            out[2 * plane + c] += slot[2 * job->classes + c];
        }
    }
    free(slots);
    return outside;
}

static void NAME(describe, SUFFIX)(job_t *job, const SCALAR *probs, const int64_t *labels, const SCALAR *mask,
                                   int64_t samples, int64_t classes, int64_t positions, int64_t sample_stride,
                                   int64_t class_stride, int squared) {
    job->probs = probs;
    job->labels = labels;
    job->mask = mask;
    job->samples = samples;
    job->classes = classes;
    job->positions = positions;
    job->sample_stride = sample_stride;
    job->class_stride = class_stride;
    job->squared = squared;
    job->blocks_per_sample = (positions + BLOCK - 1) / BLOCK;
    job->blocks = samples * job->blocks_per_sample;
}

/* logits: NULL, or the logits whose softmax the kernel writes to probs first
 * (the same strides).  out: (3, N, C) doubles, I then P then G.  Returns the number of counted
 * positions whose label is outside [0, C) (they add to no class), or -1 when
 * out of memory. */
int64_t NAME(label_statistics, SUFFIX)(const SCALAR *logits, SCALAR *probs, const int64_t *labels, const SCALAR *mask,
                                       int64_t samples, int64_t classes, int64_t positions, int64_t sample_stride,
                                       int64_t class_stride, int squared, double *out) {
    job_t job = {0};
    NAME(describe, SUFFIX)(&job, probs, labels, mask, samples, classes, positions, sample_stride, class_stride,
                           squared);
    job.logits = logits;
    job.out = out;
    for (int64_t k = 0; k < 3 * samples * classes; ++k) out[k] = 0;
    return NAME(run, SUFFIX)(&job, 0);
}

/* grad: w.r.t. the probabilities, or w.r.t. the logits when softmax is nonzero. */
void NAME(label_statistics_backward, SUFFIX)(int softmax, const SCALAR *probs, const int64_t *labels, const SCALAR *mask,
                                             int64_t samples, int64_t classes, int64_t positions,
                                             int64_t sample_stride, int64_t class_stride, int squared,
                                             const SCALAR *grad_intersection, const SCALAR *grad_pred,
                                             SCALAR *grad) {
    job_t job = {0};
    NAME(describe, SUFFIX)(&job, probs, labels, mask, samples, classes, positions, sample_stride, class_stride,
                           squared);
    job.grad_intersection = grad_intersection;
    job.grad_pred = grad_pred;
    job.grad = grad;
    job.softmax = softmax;
    NAME(run, SUFFIX)(&job, 1);
}

/* Dense targets (N, C, S) in the probabilities' strides; out and the return as above. */
int64_t NAME(dense_statistics, SUFFIX)(const SCALAR *logits, SCALAR *probs, const SCALAR *targets, int64_t samples,
                                       int64_t classes, int64_t positions, int64_t sample_stride, int64_t class_stride,
                                       int squared, double *out) {
    job_t job = {0};
    NAME(describe, SUFFIX)(&job, probs, NULL, NULL, samples, classes, positions, sample_stride, class_stride,
                           squared);
    job.logits = logits;
    job.targets = targets;
    job.out = out;
    for (int64_t k = 0; k < 3 * samples * classes; ++k) out[k] = 0;
    return NAME(run, SUFFIX)(&job, 0);
}

/* grad: w.r.t. the probabilities, or w.r.t. the logits when softmax is nonzero. */
void NAME(dense_statistics_backward, SUFFIX)(int softmax, const SCALAR *probs, const SCALAR *targets,
                                             int64_t samples, int64_t classes, int64_t positions,
                                             int64_t sample_stride, int64_t class_stride, int squared,
                                             const SCALAR *grad_intersection, const SCALAR *grad_pred,
                                             SCALAR *grad) {
    job_t job = {0};
    NAME(describe, SUFFIX)(&job, probs, NULL, NULL, samples, classes, positions, sample_stride, class_stride,
                           squared);
    job.targets = targets;
    job.grad_intersection = grad_intersection;
    job.grad_pred = grad_pred;
    job.grad = grad;
    job.softmax = softmax;
    NAME(run, SUFFIX)(&job, 1);
}
