/* synth.c — see synth.h. A slice is drawn in float "signal" units (diploe ~0.9, grey matter
 * ~0.5, white matter ~0.4, CSF ~0.07: FLAIR-like, so lesions and oedema are bright and CSF dark),
 * multiplied by a bias field, given Rician noise and quantised as signal * gain * 255.
 * Three generators per slice, all derived from (seed, index): anatomy, lesions, noise; so the
 * anatomy does not change with the lesion probability. Lengths are in pixels, scaled by
 * size / 128 (`s` below), so every size shows the same anatomy at its own resolution. */
#include "synth.h"

#include <math.h>
#include <string.h>

#include "rng.h"

#define PI_F 3.14159265358979f
#define HEAD_BINS 512   /* angular samples of the head outline and skull thickness */
#define LESION_BINS 256 /* angular samples of a lesion outline and its oedema width */

enum { STREAM_ANATOMY = 1, STREAM_LESIONS = 2, STREAM_NOISE = 3 };

typedef struct {
    float cx, cy, ax, ay, cs, sn; /* outer head ellipse; local u runs along ax */
    float outline[HEAD_BINS];     /* outer radius multiplier per angle (~1) */
    float thick[HEAD_BINS];       /* diploe and CSF-gap thickness multiplier per angle (~1) */
    float t_scalp, t_table, t_diploe, t_gap, t_cortex; /* px */
    float bax, bay;               /* brain semi-axes (mean) */
    float l_scalp, l_table, l_diploe, l_csf, l_gm, l_wm, l_deep, tex_amp; /* signal levels */
    float v_cu, v_cv, v_wu, v_wv, v_bend, v_asym; /* ventricles, brain-normalised units */
    float d_cu, d_cv, d_ru, d_rv;                 /* deep grey nuclei, brain-normalised */
    float sulcus_w, sulcus_depth;                 /* px */
    float gyri, gyri_phase;                       /* sulci around the brain (integer), phase */
    float bias[4];                                /* log bias field: x, y, x^2, y^2 */
    float sigma, gain, edge, s;
} head_params;

typedef struct {
    float cx, cy;              /* px */
    float rad[LESION_BINS];    /* mass outline radius per angle, px */
    float oedema[LESION_BINS]; /* halo width beyond the outline per angle, px */
    float rmax, reach;         /* largest outline radius; outline + halo */
    float core_frac;           /* necrotic core radius / outline radius; 0 = none */
    float l_mass, l_core, l_oedema;
    float het; /* heterogeneity of the mass: texture amplitude */
} lesion;

typedef struct {
    float u, v, rho, phi; /* head-local coordinates and polar form */
    float depth;          /* px inward from the outer surface of the head, radially */
    float brain_depth;    /* px inward from the brain surface (negative outside the brain) */
} head_pos;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* An independent generator for one purpose of one slice. */
static cnn_rng substream(uint64_t seed, uint64_t index, uint64_t stream)
{
    uint64_t h = mix64(seed ^ 0x243F6A8885A308D3ull);
    h = mix64(h ^ (index * 0x9E3779B97F4A7C15ull + 0x13198A2E03707344ull));
    h = mix64(h ^ (stream * 0xD1B54A32D192ED03ull + 0xA4093822299F31D0ull));
    return cnn_rng_seed(h);
}

static float urange(cnn_rng *r, float lo, float hi) { return lo + (hi - lo) * cnn_rng_uniform(r); }

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static float maxf(float a, float b) { return a > b ? a : b; }

static float minf(float a, float b) { return a < b ? a : b; }

static float lerpf(float a, float b, float t) { return a + (b - a) * t; }

/* 0 below e0, 1 above e1, cubic in between (e0 < e1). */
static float smoothstep(float e0, float e1, float x)
{
    float t = clampf((x - e0) / (e1 - e0), 0.0f, 1.0f);
    return t * t * (3.0f - 2.0f * t);
}

/* t[k] = 1 + sum over harmonics h in [h_lo, h_hi] of a_h cos(h angle_k + phase_h), a_h up to
 * amp / h, angle_k = -pi + 2 pi k / bins: a smooth random closed outline. */
static void harmonics(float *t, int bins, int h_lo, int h_hi, float amp, cnn_rng *r)
{
    float a[8], ph[8];
    int nh = h_hi - h_lo + 1;
    for (int i = 0; i < nh; i++) {
        a[i] = amp * urange(r, 0.3f, 1.0f) / (float)(h_lo + i);
        ph[i] = urange(r, 0.0f, 2.0f * PI_F);
    }
    for (int k = 0; k < bins; k++) {
        float ang = -PI_F + 2.0f * PI_F * (float)k / (float)bins, v = 1.0f;
        for (int i = 0; i < nh; i++) v += a[i] * cosf((float)(h_lo + i) * ang + ph[i]);
        t[k] = v;
    }
}

/* atan2 within 1e-5 rad, without libm's special-case handling (this runs for most pixels). */
static float atan2_fast(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y), hi = ax > ay ? ax : ay, lo = ax > ay ? ay : ax;
    float a = hi > 0.0f ? lo / hi : 0.0f, q = a * a;
    float r = a * (0.9998660f + q * (-0.3302995f + q * (0.1801410f + q * (-0.0851330f + q * 0.0208351f))));
    if (ay > ax) r = 0.5f * PI_F - r;
    if (x < 0.0f) r = PI_F - r;
    return y < 0.0f ? -r : r;
}

/* Linear interpolation in a table built by harmonics(); angle in [-pi, pi]. */
static float table_at(const float *t, int bins, float angle)
{
    float f = (angle + PI_F) * ((float)bins / (2.0f * PI_F));
    int i = (int)f;
    float w = f - (float)i;
    i = ((i % bins) + bins) % bins;
    int j = i + 1 == bins ? 0 : i + 1;
    return t[i] + (t[j] - t[i]) * w;
}

/* Fractal value noise into out (n, n): octaves of lattice noise, the first with cells of `cell`
 * px, each next one half the cell size and amplitude; roughly zero-mean, within [-1, 1].
 * lattice: scratch of at least (n/2 + 3)^2 floats. */
static void fractal_noise(float *out, int n, float cell, int octaves, cnn_rng *r, float *lattice)
{
    int ix[CNN_SYNTH_MAX_SIZE];
    float tx[CNN_SYNTH_MAX_SIZE], mix[CNN_SYNTH_MAX_SIZE / 2 + 3];
    memset(out, 0, (size_t)n * (size_t)n * sizeof *out);
    float amp = 1.0f, total = 0.0f;
    for (int o = 0; o < octaves && cell >= 2.0f; o++, cell *= 0.5f, amp *= 0.5f) {
        int g = (int)((float)n / cell) + 3;
        for (int i = 0; i < g * g; i++) lattice[i] = 2.0f * cnn_rng_uniform(r) - 1.0f;
        float inv = 1.0f / cell;
        for (int x = 0; x < n; x++) { /* the same taps serve x and y */
            float f = ((float)x + 0.5f) * inv;
            ix[x] = (int)f;
            float t = f - (float)ix[x];
            tx[x] = t * t * (3.0f - 2.0f * t);
        }
        for (int y = 0; y < n; y++) {
            const float *r0 = lattice + (size_t)ix[y] * (size_t)g, *r1 = r0 + g;
            for (int k = 0; k < g; k++) mix[k] = amp * (r0[k] + (r1[k] - r0[k]) * tx[y]);
            float *row = out + (size_t)y * (size_t)n;
            for (int x = 0; x < n; x++) {
                float a = mix[ix[x]], b = mix[ix[x] + 1];
                row[x] += a + (b - a) * tx[x];
            }
        }
        total += amp;
    }
    if (total > 0.0f)
        for (size_t i = 0; i < (size_t)n * (size_t)n; i++) out[i] /= total;
}

static void head_locate(const head_params *h, float x, float y, head_pos *p)
{
    float dx = x - h->cx, dy = y - h->cy;
    p->u = h->cs * dx + h->sn * dy;
    p->v = -h->sn * dx + h->cs * dy;
    p->rho = sqrtf(p->u * p->u + p->v * p->v);
    float qu = p->u / h->ax, qv = p->v / h->ay, q = sqrtf(qu * qu + qv * qv);
    if (q > 1.1f) { /* clear of the outline (its multiplier stays under 1.05): background */
        p->phi = 0.0f;
        p->depth = p->brain_depth = -1e9f;
        return;
    }
    p->phi = atan2_fast(p->v, p->u);
    float r_ellipse = q > 1e-6f ? p->rho / q : h->ax;
    p->depth = r_ellipse * table_at(h->outline, HEAD_BINS, p->phi) - p->rho;
    float skull = h->t_scalp + h->t_table + (h->t_diploe + h->t_gap) * table_at(h->thick, HEAD_BINS, p->phi);
    p->brain_depth = p->depth - skull;
}

static void draw_head(head_params *h, int n, cnn_rng *r)
{
    float s = (float)n / 128.0f;
    h->s = s;
    h->edge = 0.7f;
    h->ax = (float)n * urange(r, 0.30f, 0.355f);
    h->ay = h->ax * urange(r, 1.10f, 1.24f);
    float angle = urange(r, -0.22f, 0.22f);
    h->cs = cosf(angle);
    h->sn = sinf(angle);
    h->cx = (float)n * (0.5f + urange(r, -0.03f, 0.03f));
    h->cy = (float)n * (0.5f + urange(r, -0.03f, 0.03f));
    harmonics(h->outline, HEAD_BINS, 2, 5, 0.035f, r);
    harmonics(h->thick, HEAD_BINS, 1, 3, 0.35f, r);
    h->t_scalp = urange(r, 2.0f, 3.5f) * s;
    h->t_table = urange(r, 0.8f, 1.4f) * s;
    h->t_diploe = urange(r, 2.0f, 3.5f) * s;
    h->t_gap = urange(r, 1.0f, 2.2f) * s;
    h->t_cortex = urange(r, 2.2f, 3.2f) * s;
    float skull = h->t_scalp + h->t_table + h->t_diploe + h->t_gap;
    h->bax = h->ax - skull;
    h->bay = h->ay - skull;
    h->l_scalp = urange(r, 0.45f, 0.62f);
    h->l_table = urange(r, 0.08f, 0.16f);
    h->l_diploe = urange(r, 0.80f, 0.95f);
    h->l_csf = urange(r, 0.04f, 0.09f);
    h->l_gm = urange(r, 0.48f, 0.56f);
    h->l_wm = h->l_gm - urange(r, 0.12f, 0.19f);
    h->l_deep = lerpf(h->l_wm, h->l_gm, urange(r, 0.6f, 0.95f));
    h->tex_amp = urange(r, 0.04f, 0.08f);
    h->v_cu = urange(r, 0.06f, 0.09f);
    h->v_cv = urange(r, -0.08f, 0.02f);
    h->v_wu = urange(r, 0.04f, 0.09f);
    h->v_wv = urange(r, 0.24f, 0.34f);
    h->v_bend = urange(r, 0.06f, 0.14f);
    h->v_asym = urange(r, -0.015f, 0.015f);
    h->d_cu = urange(r, 0.17f, 0.22f);
    h->d_cv = h->v_cv + urange(r, 0.08f, 0.14f);
    h->d_ru = urange(r, 0.07f, 0.10f);
    h->d_rv = urange(r, 0.10f, 0.15f);
    h->sulcus_w = urange(r, 0.45f, 0.8f) * s;
    h->sulcus_depth = urange(r, 7.0f, 12.0f) * s;
    h->gyri = (float)(int)urange(r, 18.0f, 29.0f);
    h->gyri_phase = urange(r, 0.0f, 2.0f * PI_F);
    for (int i = 0; i < 4; i++) h->bias[i] = cnn_rng_normal(r) * (i < 2 ? 0.14f : 0.08f);
    h->sigma = urange(r, 0.015f, 0.04f);
    h->gain = urange(r, 0.82f, 0.92f);
}

/* Weight (0..1) of one lateral ventricle, side sd = +1 or -1, at brain-normalised (bu, bv):
 * a crescent whose ends flare away from the midline, so the pair looks like ")(". */
static float ventricle(const head_params *h, float bu, float bv, float sd)
{
    float pv = (bv - h->v_cv - sd * h->v_asym) / h->v_wv;
    if (pv <= -1.3f || pv >= 1.3f) return 0.0f;
    float width = h->v_wu * (1.0f + 0.35f * pv * pv) * (1.0f - 0.25f * pv); /* wider frontal horn */
    float pu = (bu - sd * (h->v_cu + h->v_bend * pv * pv)) / width;
    float q = sqrtf(pu * pu + pv * pv);
    float e = h->edge / (width * h->bax);
    return 1.0f - smoothstep(1.0f - e, 1.0f + e, q);
}

static float ellipse_weight(float du, float dv, float ru, float rv, float soft)
{
    if (fabsf(du) >= ru * (1.0f + soft) || fabsf(dv) >= rv * (1.0f + soft)) return 0.0f;
    float q = sqrtf((du / ru) * (du / ru) + (dv / rv) * (dv / rv));
    return 1.0f - smoothstep(1.0f - soft, 1.0f + soft, q);
}

/* Distance in px (along the arc) from angle phase t to the nearest multiple of 2 pi, at radius
 * rho, for a pattern of k lines around the circle. */
static float line_distance(float t, float rho, float k)
{
    float w = t - 2.0f * PI_F * floorf(t / (2.0f * PI_F) + 0.5f);
    return fabsf(w) * rho / k;
}

/* Signal of brain tissue (no lesions) at a brain position; i indexes the noise planes; *white
 * gets the white-matter weight. Sulci run roughly radially in from the brain surface (wiggling
 * with the fold noise, deeper where the sulc noise is high, shallow secondary ones between);
 * grey matter lines the surface and both walls of every sulcus. */
static float brain_signal(const head_params *h, const head_pos *p, const float *tex, const float *fold,
                          const float *sulc, size_t i, float *white)
{
    float s = h->s, db = p->brain_depth, f = fold[i];
    float bu = p->u / h->bax, bv = p->v / h->bay;
    float tc = h->t_cortex * (1.0f + 0.4f * f), to_csf = db, sl = 0.0f;
    float depth1 = h->sulcus_depth * clampf(0.75f + 1.2f * sulc[i], 0.25f, 1.6f);
    if (db < depth1) { /* sulcal zone */
        float t = h->gyri * p->phi + h->gyri_phase + 2.5f * f;
        float depth2 = 0.45f * depth1 * smoothstep(-0.1f, 0.2f, sulc[i]);
        float d1 = line_distance(t, p->rho, h->gyri), d2 = line_distance(2.0f * t + PI_F, p->rho, 2.0f * h->gyri);
        float z1 = 1.0f - smoothstep(0.6f, 1.0f, db / depth1);
        float z2 = depth2 > 0.5f * s ? 1.0f - smoothstep(0.5f, 1.0f, db / depth2) : 0.0f;
        to_csf = minf(db, minf(d1 + (1.0f - z1) * 30.0f * s, d2 + (1.0f - z2) * 30.0f * s));
        float w1 = h->sulcus_w * (1.3f - 0.6f * db / depth1), w2 = 0.7f * h->sulcus_w;
        sl = maxf((1.0f - smoothstep(0.5f * w1, 1.5f * w1, d1)) * z1,
                  (1.0f - smoothstep(0.5f * w2, 1.5f * w2, d2)) * z2);
    }
    *white = smoothstep(tc - 0.7f * s, tc + 0.7f * s, to_csf);
    float v = lerpf(h->l_gm, h->l_wm, *white);
    float deep = maxf(ellipse_weight(bu - h->d_cu, bv - h->d_cv, h->d_ru, h->d_rv, 0.3f),
                      ellipse_weight(bu + h->d_cu, bv - h->d_cv, h->d_ru, h->d_rv, 0.3f));
    v = lerpf(v, h->l_deep, deep);
    v *= 1.0f + h->tex_amp * tex[i] * 2.0f;
    /* interhemispheric fissure: front and back of the midline, clear of the ventricles */
    float wig = fabsf(p->u + 1.5f * s * f);
    float fis = wig < 1.1f * s ? (1.0f - smoothstep(0.35f * s, 1.1f * s, wig)) *
                                     smoothstep(h->v_wv + 0.04f, h->v_wv + 0.12f, fabsf(bv - h->v_cv))
                               : 0.0f;
    float csf = maxf(sl * 0.9f, fis);
    if (fabsf(bu) < 0.65f && fabsf(bv - h->v_cv) < 0.5f) /* around the ventricles */
        csf = maxf(csf, maxf(ventricle(h, bu, bv, 1.0f), ventricle(h, bu, bv, -1.0f)));
    return lerpf(v, h->l_csf, csf);
}

/* Signal of the head (no lesions) at depth d from the outer surface; brain is the brain signal
 * (only used where the brain begins). */
static float head_signal(const head_params *h, const head_pos *p, float brain)
{
    if (p->brain_depth >= h->edge) return brain;
    float e = h->edge, d = p->depth, th = (p->depth - p->brain_depth - h->t_scalp - h->t_table);
    float d1 = h->t_scalp, d2 = d1 + h->t_table, d3 = d2 + th * h->t_diploe / (h->t_diploe + h->t_gap);
    float v = 0.0f;
    v = lerpf(v, h->l_scalp, smoothstep(-e, e, d));
    v = lerpf(v, h->l_table, smoothstep(d1 - e, d1 + e, d));
    v = lerpf(v, h->l_diploe, smoothstep(d2 - e, d2 + e, d));
    v = lerpf(v, h->l_csf, smoothstep(d3 - e, d3 + e, d));
    return lerpf(v, brain, smoothstep(-e, e, p->brain_depth));
}

static int inside_brain(const head_params *h, float x, float y, float margin)
{
    head_pos p;
    head_locate(h, x, y, &p);
    return p.brain_depth >= margin;
}

/* Draws one lesion's shape and levels (radius r px) with its centre still unset. */
static void draw_lesion_shape(lesion *l, float r, float s, cnn_rng *rng)
{
    float aspect = urange(rng, 0.7f, 1.0f), orient = urange(rng, 0.0f, PI_F);
    float rough = urange(rng, 0.12f, 0.35f);
    harmonics(l->rad, LESION_BINS, 2, 7, rough, rng);
    float halo_w = r * urange(rng, 0.3f, 0.9f) + 1.5f * s;
    harmonics(l->oedema, LESION_BINS, 1, 4, 0.5f, rng);
    l->rmax = 0.0f;
    float omax = 0.0f;
    for (int k = 0; k < LESION_BINS; k++) {
        float ang = -PI_F + 2.0f * PI_F * (float)k / (float)LESION_BINS - orient;
        float c = cosf(ang), sn = sinf(ang) / aspect;
        l->rad[k] = r * maxf(0.5f, l->rad[k]) / sqrtf(c * c + sn * sn);
        l->oedema[k] = halo_w * maxf(0.2f, l->oedema[k]);
        l->rmax = maxf(l->rmax, l->rad[k]);
        omax = maxf(omax, l->rad[k] + l->oedema[k]);
    }
    l->reach = omax + 2.0f;
    float big = clampf((r / s - 4.0f) / 18.0f, 0.0f, 1.0f);
    l->core_frac = cnn_rng_uniform(rng) < 0.15f + 0.5f * big ? urange(rng, 0.3f, 0.55f) : 0.0f;
    l->l_mass = urange(rng, 0.80f, 1.0f);
    l->l_core = urange(rng, 0.25f, 0.45f);
    l->l_oedema = urange(rng, 0.52f, 0.64f);
    l->het = urange(rng, 0.1f, 0.3f);
}

static void scale_lesion(lesion *l, float f)
{
    for (int k = 0; k < LESION_BINS; k++) l->rad[k] *= f, l->oedema[k] *= f;
    l->rmax *= f;
    l->reach = (l->reach - 2.0f) * f + 2.0f;
}

/* Whether the whole mass outline, centred at (x, y), lies in the brain with a margin, and clear
 * of the lesions already placed. */
static int lesion_fits(const head_params *h, const lesion *l, float x, float y, const lesion *placed, int n_placed)
{
    for (int j = 0; j < n_placed; j++) {
        float dx = x - placed[j].cx, dy = y - placed[j].cy;
        float need = l->rmax + placed[j].rmax + 3.0f * h->s;
        if (dx * dx + dy * dy < need * need) return 0;
    }
    for (int k = 0; k < LESION_BINS; k += 4) {
        float ang = -PI_F + 2.0f * PI_F * (float)k / (float)LESION_BINS;
        if (!inside_brain(h, x + l->rad[k] * cosf(ang), y + l->rad[k] * sinf(ang), 2.0f * h->s + h->edge))
            return 0;
    }
    return 1;
}

/* Places up to n lesions; returns how many fit (the first always does). */
static int draw_lesions(const head_params *h, lesion *les, int n, cnn_rng *rng)
{
    float s = h->s;
    int placed = 0;
    for (int j = 0; j < n; j++) {
        lesion *l = &les[placed];
        float r = maxf(4.0f, (4.0f + 18.0f * powf(cnn_rng_uniform(rng), 1.7f)) * (j ? 0.75f : 1.0f)) * s;
        draw_lesion_shape(l, r, s, rng);
        int ok = 0;
        for (int t = 0; t < 120 && !ok; t++) {
            if (t && t % 30 == 0 && r > 4.0f * s) { /* does not fit: try smaller, down to 4 px */
                float f = maxf(0.75f, 4.0f * s / r);
                scale_lesion(l, f);
                r *= f;
            }
            float rn = 0.85f * sqrtf(cnn_rng_uniform(rng)), th = urange(rng, -PI_F, PI_F);
            float pu = rn * cosf(th) * h->bax, pv = rn * sinf(th) * h->bay;
            l->cx = h->cx + h->cs * pu - h->sn * pv;
            l->cy = h->cy + h->sn * pu + h->cs * pv;
            ok = lesion_fits(h, l, l->cx, l->cy, les, placed);
        }
        if (!ok && placed == 0) { /* last resort: a small one at the brain centre */
            scale_lesion(l, 4.0f * s / l->rmax);
            l->cx = h->cx;
            l->cy = h->cy;
            ok = 1;
        }
        if (ok) placed++;
    }
    return placed;
}

static cnn_synth_box lesion_box(const lesion *l, int n)
{
    cnn_synth_box b = {l->cx, l->cy, l->cx, l->cy};
    for (int k = 0; k < LESION_BINS; k++) {
        float ang = -PI_F + 2.0f * PI_F * (float)k / (float)LESION_BINS;
        float x = l->cx + l->rad[k] * cosf(ang), y = l->cy + l->rad[k] * sinf(ang);
        b.x0 = minf(b.x0, x), b.x1 = maxf(b.x1, x);
        b.y0 = minf(b.y0, y), b.y1 = maxf(b.y1, y);
    }
    b.x0 = clampf(b.x0, 0.0f, (float)n), b.x1 = clampf(b.x1, 0.0f, (float)n);
    b.y0 = clampf(b.y0, 0.0f, (float)n), b.y1 = clampf(b.y1, 0.0f, (float)n);
    return b;
}

/* Blends one lesion into signal v at (x, y): oedema (inside the brain, mostly in white matter:
 * oedema_mask), then the mass with its necrotic core; tex is the texture noise there. */
static float apply_lesion(const lesion *l, float x, float y, float v, float oedema_mask, float tex, float edge)
{
    float dx = x - l->cx, dy = y - l->cy;
    if (fabsf(dx) > l->reach || fabsf(dy) > l->reach) return v;
    float rho = sqrtf(dx * dx + dy * dy), ang = atan2_fast(dy, dx);
    float rad = table_at(l->rad, LESION_BINS, ang), ow = table_at(l->oedema, LESION_BINS, ang);
    float halo = 1.0f - smoothstep(0.0f, ow, rho - rad);
    v = lerpf(v, l->l_oedema * (1.0f + 0.1f * tex), halo * oedema_mask);
    float mass = 1.0f - smoothstep(rad - edge, rad + edge, rho);
    float m = l->l_mass * (1.0f + l->het * tex);
    if (l->core_frac > 0.0f) {
        float rc = rad * l->core_frac, ec = maxf(1.0f, 0.3f * rc);
        m = lerpf(m, l->l_core * (1.0f + 2.0f * l->het * tex), 1.0f - smoothstep(rc - ec, rc + ec, rho));
    }
    return lerpf(v, m, mass);
}

size_t cnn_synth_work_floats(int size)
{
    if (size < CNN_SYNTH_MIN_SIZE || size > CNN_SYNTH_MAX_SIZE) return 0;
    return 4 * (size_t)size * (size_t)size;
}

cnn_status cnn_synth_tumour_slice(uint64_t seed, uint64_t index, const cnn_synth_opts *opts,
                                  uint8_t *px, float *work, cnn_synth_info *info, cnn_error *err)
{
    const int n = opts->size;
    if (n < CNN_SYNTH_MIN_SIZE || n > CNN_SYNTH_MAX_SIZE)
        return cnn_fail(err, CNN_ERR_USAGE, "synth: size %d is outside %d..%d", n, CNN_SYNTH_MIN_SIZE,
                        CNN_SYNTH_MAX_SIZE);
    if (!(opts->lesion_prob >= 0.0f && opts->lesion_prob <= 1.0f))
        return cnn_fail(err, CNN_ERR_USAGE, "synth: lesion probability %g is outside 0..1",
                        (double)opts->lesion_prob);
    const size_t plane = (size_t)n * (size_t)n;
    float *tex = work, *fold = work + plane, *sulc = work + 2 * plane, *lattice = work + 3 * plane;

    cnn_rng anatomy = substream(seed, index, STREAM_ANATOMY);
    head_params h;
    draw_head(&h, n, &anatomy);
    const float s = h.s;
    fractal_noise(tex, n, 16.0f * s, 4, &anatomy, lattice);
    fractal_noise(fold, n, 10.0f * s, 3, &anatomy, lattice);
    fractal_noise(sulc, n, 14.0f * s, 2, &anatomy, lattice);

    cnn_rng lesion_rng = substream(seed, index, STREAM_LESIONS);
    lesion les[CNN_SYNTH_MAX_LESIONS];
    int n_les = 0;
    float has = cnn_rng_uniform(&lesion_rng), how_many = cnn_rng_uniform(&lesion_rng);
    if (has < opts->lesion_prob)
        n_les = draw_lesions(&h, les, how_many < 0.7f ? 1 : how_many < 0.9f ? 2 : 3, &lesion_rng);

    memset(info, 0, sizeof *info);
    info->n_lesions = n_les;
    for (int j = 0; j < n_les; j++) info->lesion[j] = lesion_box(&les[j], n);
    info->brain_cx = h.cx;
    info->brain_cy = h.cy;
    info->brain_ax = h.bax;
    info->brain_ay = h.bay;
    info->brain_angle = atan2f(h.sn, h.cs);

    /* the bias field exp(b0 X + b1 Y + b2 X^2 + b3 Y^2), X and Y in [-1, 1], is separable */
    const float inv = 2.0f / (float)n, scale = 255.0f * h.gain, lesion_edge = 0.6f + 0.6f * s;
    float *bias_x = lattice;
    for (int x = 0; x < n; x++) {
        float X = ((float)x + 0.5f) * inv - 1.0f;
        bias_x[x] = expf(h.bias[0] * X + h.bias[2] * X * X);
    }
    cnn_rng noise = substream(seed, index, STREAM_NOISE);
    for (int y = 0; y < n; y++) {
        float Y = ((float)y + 0.5f) * inv - 1.0f, bias_y = expf(h.bias[1] * Y + h.bias[3] * Y * Y);
        for (int x = 0; x < n; x++) {
            size_t i = (size_t)y * (size_t)n + (size_t)x;
            float fx = (float)x + 0.5f, fy = (float)y + 0.5f;
            head_pos p;
            head_locate(&h, fx, fy, &p);
            float v = 0.0f;
            if (p.depth > -h.edge) {
                float white = 0.0f;
                float brain = p.brain_depth > -h.edge ? brain_signal(&h, &p, tex, fold, sulc, i, &white) : 0.0f;
                v = head_signal(&h, &p, brain);
                float mask = smoothstep(0.0f, 1.5f * s, p.brain_depth) * (0.3f + 0.7f * white);
                for (int j = 0; j < n_les; j++) v = apply_lesion(&les[j], fx, fy, v, mask, tex[i], lesion_edge);
            }
            v *= bias_y * bias_x[x];
            /* Rician: magnitude of the signal plus complex Gaussian noise (Marsaglia's polar
             * method for the two normals) */
            float a, b, r2;
            do {
                a = 2.0f * cnn_rng_uniform(&noise) - 1.0f;
                b = 2.0f * cnn_rng_uniform(&noise) - 1.0f;
                r2 = a * a + b * b;
            } while (r2 >= 1.0f || r2 < 1e-12f);
            float m = h.sigma * sqrtf(-2.0f * logf(r2) / r2);
            float re = v + m * a, im = m * b;
            float q = sqrtf(re * re + im * im) * scale + 0.5f;
            px[i] = (uint8_t)(q >= 255.0f ? 255 : (int)q);
        }
    }
    return CNN_OK;
}
