#!/usr/bin/python3
"""Procedural colour shapes with known factors, and their measurement.

One image: a single shape (circle, bar or triangle) of one colour on a
plain background.  The factors (all fractions of the image side where lengths):

  shape     circle | bar (a rectangle twice as wide as high) | triangle
            (isosceles, pointing up, base twice its height).  Both non-round
            shapes are wide: at 32x32 the difference between a circle and an
            equal-area square or equilateral triangle lies in a few corner
            pixels, and no model trained here carried it in z_sem
            (doc/shapes-history.md); an elongation is as coarse as size or
            position, which z_sem does carry.
  hue       object hue in [0, 1); saturation 0.85, value 0.9.  A mixture: with
            probability 1/3 uniform within 1/12 of red (0), else uniform over
            the rest of the circle, so about a third of the images are red.
  bg_hue    background hue in [0, 1); saturation 0.35
  bg_value  background value, uniform in [0.25, 0.65]
  size      equal-area radius: the object covers pi * size^2 of the image
            (circle radius; bar height = size*sqrt(pi/2); triangle height =
            size*sqrt(pi)), uniform in [0.11, 0.21].  Equal area makes
            "large" mean the same for all shapes and lets measure() read size
            from area without the shape.
  x, y      centroid, uniform in [0.3, 0.7], narrowed where needed so the
            whole object stays 0.03 inside the frame (only triangles larger
            than 0.15, in x; the narrowing is symmetric, so `left` stays
            balanced).

turn      quarter turns of the drawing, 0 in generator version 2.  Version 3
            turns the bar and the triangle on end (the bar twice as high as
            wide, the triangle's apex pointing left or right at random), so
            every shape is at most as wide as a circle of its size.  With the
            version 2 shapes wide, a large triangle's centroid can move only
            within 0.4-0.6, and neither v2 model took the object's place from
            z_sem (doc/shapes-history.md); the shapes themselves, and so every
            shape feature below, are the same turned.  Version 4 stands every
            shape on end, the circle (an ellipse there) too.
  aspect    width / height of the drawing before its turn: circle 1, bar and
            triangle 2 in versions 2 and 3 (nominal_aspect()); in version 4
            uniform in [1, 2] for every shape, the circle drawn as an ellipse
            of the circle's area, and the circle drawn half the time (bar and
            triangle a quarter each).  `round` is categorical in versions 2
            and 3, so an edit of a circle towards round, or of a bar away from
            it, has nothing to move (doc/shapes-history.md); in version 4 the
            elongation moves by degrees in every shape.

Generator versions: 2 (the shipped model's data), 3 (turned shapes) and 4
(turned shapes of any aspect); generate(..., version=N) and
make_shapes_dataset.py --version N pick one.

Binary attributes (see attributes()): large (size > 0.16), red (hue within
1/12 of 0), round (circularity > 0.5 from the drawn shape and aspect: the
circle in versions 2 and 3, a third of the images; an ellipse up to 1.5:1 in
version 4, a quarter), left (x < 0.5), light_bg (bg_value > 0.45).

Images are anti-aliased: rendered at 4x4 supersampling, box-downsampled, and
blended linearly between background and object colour.

measure() recovers the factors from pixels (also for blurred, noisy or
decoded images): background colour from the border ring, object mask by Otsu
on the colour distance to it, soft coverage by projecting each pixel onto the
background->object colour line (size from the covered area, centroid from the
coverage), hue as the chroma-weighted circular mean of the object's core, and
the shape from roundness (area / bounding box), projection skewness and
elongation (the ratio of the coverage's principal spreads).
measure_attribute() gives one scalar per binary attribute that grows as the
attribute becomes more true.
"""
import colorsys
import math

import numpy as np

SHAPES = ("circle", "bar", "triangle")
VERSIONS = (2, 3, 4)
ATTRIBUTES = ("large", "red", "round", "left", "light_bg")

OBJ_SAT, OBJ_VAL = 0.85, 0.9
BG_SAT = 0.35
BG_VALUE_RANGE = (0.25, 0.65)
SIZE_RANGE = (0.11, 0.21)
POS_RANGE = (0.3, 0.7)
EDGE_MARGIN = 0.03
RED_WIDTH = 1.0 / 12.0
RED_PROB = 1.0 / 3.0
SUPERSAMPLE = 4

ASPECT = 2.0            # width / height of bar and triangle in versions 2 and 3
ASPECT_RANGE = (1.0, 2.0)  # version 4: every shape's width / height, drawn uniformly
SHAPE_WEIGHTS_V4 = (0.5, 0.25, 0.25)  # version 4: circle (ellipse), bar, triangle


def nominal_aspect(shape):
    """Width / height of a shape in versions 2 and 3 (circle 1, bar and triangle ASPECT)."""
    return 1.0 if shape == "circle" else ASPECT


def bar_half_height(aspect):
    """Half height of a bar per unit size: w * h = pi size^2, w = aspect h."""
    return math.sqrt(math.pi / aspect) / 2.0


def triangle_height(aspect):
    """Height of a triangle per unit size: base = aspect h, aspect h^2 / 2 = pi size^2."""
    return math.sqrt(2.0 * math.pi / aspect)

# Shape features.  roundness = area / bounding-box area (circle pi/4, bar 1,
# triangle 1/2, whatever the aspect; pixelation moves small triangles up);
# asymmetry = |skewness| of the coverage projections (0 for circle and bar,
# 2*sqrt(2)/5 for any triangle's vertical profile; blur keeps the third
# cumulant, so it survives blurring); elongation = ratio of the coverage's
# principal standard deviations (for width / height a: ellipse and bar a,
# triangle a*sqrt(3)/2 or its inverse, from variances (aH)^2/24 across and
# H^2/18 along its height H; sqrt(3) at a = 2).  Elongation is what tells an
# ellipse (roundness pi/4, no skew) from a circle, so an edit that stretches a
# circle counts as leaving it.  In the space
#   u = (roundness - pi/4) / (1 - pi/4),  v = asymmetry / TRI_ASYMMETRY,
#   w = (elongation - 1) / (ASPECT - 1)
# the circle sits at (0, 0, 0), the bar at (1, 0, 1), the triangle near
# (-1.3, 1, 0.7); circularity = 1 - |(u, v, w)| is 1 for a circle and < 0 for
# the others.
ROUNDNESS = {"circle": math.pi / 4.0, "bar": 1.0, "triangle": 0.5}
TRI_ASYMMETRY = 2.0 * math.sqrt(2.0) / 5.0
ASYMMETRY = {"circle": 0.0, "bar": 0.0, "triangle": TRI_ASYMMETRY}
CIRCULARITY_THRESHOLD = 0.5


def nominal_elongation(shape, aspect):
    """Elongation of a drawn shape of width / height `aspect` (see shape features)."""
    stretch = aspect * math.sqrt(3.0) / 2.0 if shape == "triangle" else aspect
    return max(stretch, 1.0 / stretch)


# ----------------------------------------------------------------- generation

def extents(shape, size, turn=0, aspect=None):
    """(left, right, up, down) reach of a shape from its centroid, after `turn` quarter turns.

    aspect: width / height before turning (default: the shape's nominal_aspect()).
    """
    aspect = nominal_aspect(shape) if aspect is None else aspect
    if shape == "circle":               # an ellipse of the circle's area
        reach = (size * math.sqrt(aspect),) * 2 + (size / math.sqrt(aspect),) * 2
    elif shape == "bar":
        half_height = size * bar_half_height(aspect)
        reach = (aspect * half_height,) * 2 + (half_height,) * 2
    else:
        height = size * triangle_height(aspect)  # the centroid lies a third of the height above
        reach = (aspect * height / 2.0,) * 2 + (2.0 * height / 3.0, height / 3.0)  # the base
    for _ in range(turn % 4):           # a clockwise quarter turn: up -> right -> down -> left
        left, right, up, down = reach
        reach = (down, up, left, right)
    return reach


def position_range(reach_low, reach_high):
    """Interval of centroids inside POS_RANGE that keep the object in frame."""
    lo = max(POS_RANGE[0], reach_low + EDGE_MARGIN)
    hi = min(POS_RANGE[1], 1.0 - reach_high - EDGE_MARGIN)
    return lo, hi


def sample_hue(rng):
    """Object hue from the red / not-red mixture."""
    if rng.random() < RED_PROB:
        return float((rng.uniform(-RED_WIDTH, RED_WIDTH)) % 1.0)
    return float(rng.uniform(RED_WIDTH, 1.0 - RED_WIDTH))


def sample_turn(rng, shape, version):
    """Quarter turns of a shape: none in version 2; on end in versions 3 and 4 (the circle,
    an ellipse in version 4, too)."""
    if version == 2 or (shape == "circle" and version == 3):
        return 0
    if shape in ("circle", "bar"):
        return 1
    return 1 if rng.random() < 0.5 else 3   # the triangle's apex to the right or the left


def sample_factors(rng, version=2):
    """Draw one factors dict from a numpy Generator (generator `version`, see VERSIONS)."""
    if version not in VERSIONS:
        raise ValueError("unknown generator version %r (known: %s)" % (version, VERSIONS))
    if version == 4:
        shape = SHAPES[int(np.searchsorted(np.cumsum(SHAPE_WEIGHTS_V4), rng.random(),
                                           side="right"))]
    else:
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
    turn = sample_turn(rng, shape, version)
    size = float(rng.uniform(*SIZE_RANGE))
    aspect = float(rng.uniform(*ASPECT_RANGE)) if version == 4 else nominal_aspect(shape)
    left, right, up, down = extents(shape, size, turn, aspect)
    return {
        "shape": shape,
        "aspect": aspect,
        "hue": sample_hue(rng),
        "bg_hue": float(rng.random()),
        "bg_value": float(rng.uniform(*BG_VALUE_RANGE)),
        "size": size,
        "x": float(rng.uniform(*position_range(left, right))),
        "y": float(rng.uniform(*position_range(up, down))),
        "turn": turn,
    }


def turn_back(dx, dy, turn):
    """Offsets in the turned drawing -> offsets in the unturned one (y grows downwards)."""
    for _ in range(turn % 4):           # undo one clockwise quarter turn
        dx, dy = dy, -dx
    return dx, dy


def inside(shape, dx, dy, size, turn=0, aspect=None):
    """Boolean array: offsets (dx, dy) from the centroid inside the shape (aspect as extents())."""
    aspect = nominal_aspect(shape) if aspect is None else aspect
    dx, dy = turn_back(dx, dy, turn)
    if shape == "circle":               # exact for aspect 1: the version 2 and 3 circle
        return dx * dx / aspect + dy * dy * aspect <= size * size
    if shape == "bar":
        half_height = size * bar_half_height(aspect)
        return (np.abs(dx) <= aspect * half_height) & (np.abs(dy) <= half_height)
    height = size * triangle_height(aspect)  # y grows downwards; the apex is 2/3 height above
    from_apex = dy + 2.0 * height / 3.0      # the centroid, the base 1/3 below it
    return ((from_apex >= 0.0) & (from_apex <= height)
            & (np.abs(dx) <= from_apex * aspect / 2.0))


def coverage(factors, side, ss=SUPERSAMPLE):
    """Fraction of each pixel covered by the object (side x side floats)."""
    n = side * ss
    t = (np.arange(n) + 0.5) / n
    gx, gy = np.meshgrid(t, t)
    hit = inside(factors["shape"], gx - factors["x"], gy - factors["y"], factors["size"],
                 factors.get("turn", 0), factors.get("aspect"))
    return hit.reshape(side, ss, side, ss).mean(axis=(1, 3))


def colours(factors):
    """(object RGB, background RGB) as float arrays in [0, 1]."""
    obj = colorsys.hsv_to_rgb(factors["hue"], OBJ_SAT, OBJ_VAL)
    bg = colorsys.hsv_to_rgb(factors["bg_hue"], BG_SAT, factors["bg_value"])
    return np.array(obj), np.array(bg)


def paint(alpha, factors):
    """uint8 image of a coverage map (H x W in [0, 1]) in the colours of a factors dict."""
    obj, bg = colours(factors)
    img = bg + alpha[..., None] * (obj - bg)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def render(factors, side=32):
    """uint8 side x side x 3 image of a factors dict."""
    return paint(coverage(factors, side), factors)


def generate(index, size=32, seed=1, stream=0, version=2):
    """Image `index` of a dataset -> (uint8 HxWx3 image, factors dict).

    Deterministic in (seed, stream, index, version); use different streams
    for disjoint splits (make_shapes_dataset.py: train 0, test 1).
    """
    rng = np.random.default_rng([seed, stream, index])
    factors = sample_factors(rng, version)
    return render(factors, size), factors


# ----------------------------------------------------------------- attributes

def hue_distance(a, b):
    """Circular distance between hues in [0, 1): result in [0, 0.5]."""
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


def shape_coordinates(roundness, asymmetry, elongation):
    """(u, v, w): the circle at the origin, the bar at (1, 0, 1) (see shape features)."""
    return ((roundness - ROUNDNESS["circle"]) / (ROUNDNESS["bar"] - ROUNDNESS["circle"]),
            asymmetry / TRI_ASYMMETRY,
            (elongation - 1.0) / (ASPECT - 1.0))


def circularity(roundness, asymmetry, elongation):
    """1 for a circle, < 0 for a bar or triangle (see shape features)."""
    return 1.0 - math.sqrt(sum(c * c for c in shape_coordinates(roundness, asymmetry,
                                                                  elongation)))


def classify_shape(roundness, asymmetry, elongation):
    """circle if circularity > 0.5, else bar or triangle by the larger of u, v."""
    if circularity(roundness, asymmetry, elongation) > CIRCULARITY_THRESHOLD:
        return "circle"
    u, v, _ = shape_coordinates(roundness, asymmetry, elongation)
    return "triangle" if v > u else "bar"


def attributes(factors):
    """Binary attributes (0/1 ints) of a generated or measured factors dict."""
    size_mid = sum(SIZE_RANGE) / 2.0
    bg_mid = sum(BG_VALUE_RANGE) / 2.0
    return {
        "large": int(factors["size"] > size_mid),
        "red": int(hue_distance(factors["hue"], 0.0) < RED_WIDTH),
        "round": int(attribute_score("round", factors) > CIRCULARITY_THRESHOLD),
        "left": int(factors["x"] < 0.5),
        "light_bg": int(factors["bg_value"] > bg_mid),
    }


# Scalar score per attribute and the score at which the binary label flips.
ATTRIBUTE_THRESHOLDS = {
    "large": sum(SIZE_RANGE) / 2.0,
    "red": math.cos(2.0 * math.pi * RED_WIDTH),
    "round": CIRCULARITY_THRESHOLD,
    "left": -0.5,
    "light_bg": sum(BG_VALUE_RANGE) / 2.0,
}


def attribute_score(name, factors):
    """Scalar for attribute `name` from a factors dict (bigger = more true)."""
    if name == "large":
        return factors["size"]
    if name == "red":
        return math.cos(2.0 * math.pi * factors["hue"])
    if name == "round":
        if "roundness" in factors:    # measured
            return circularity(factors["roundness"], factors["asymmetry"],
                               factors["elongation"])
        shape = factors["shape"]       # generated: the nominal value
        aspect = factors.get("aspect", nominal_aspect(shape))
        return circularity(ROUNDNESS[shape], ASYMMETRY[shape],
                           nominal_elongation(shape, aspect))
    if name == "left":
        return -factors["x"]
    if name == "light_bg":
        return factors["bg_value"]
    raise KeyError("unknown attribute %r (known: %s)" % (name, ", ".join(ATTRIBUTES)))


def measure_attribute(name, image):
    """Scalar for attribute `name` measured from an image (bigger = more true).

    large -> size, red -> cos(2*pi*hue), round -> circularity (1 for a
    circle, < 0 for bar and triangle), left -> -x, light_bg ->
    background value.  The binary label flips at ATTRIBUTE_THRESHOLDS[name].
    """
    return attribute_score(name, measure(image))


# ----------------------------------------------------------------- measurement

def to_float_rgb(image):
    """uint8 or float image (HxW, HxWx1/3/4) -> float HxWx3 in [0, 1]."""
    img = np.asarray(image)
    if img.dtype == np.uint8:
        img = img.astype(np.float64) / 255.0
    else:
        img = img.astype(np.float64)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return img[..., :3]


def border_colour(img):
    """Per-channel median of a border ring (side/16 pixels wide, >= 1)."""
    w = max(1, int(round(min(img.shape[:2]) / 16.0)))
    ring = np.ones(img.shape[:2], bool)
    ring[w:-w, w:-w] = False
    return np.median(img[ring], axis=0)


def otsu_threshold(values, bins=128):
    """Otsu's threshold of a 1-D array of non-negative values."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, float(values.max()) + 1e-12))
    centres = (edges[:-1] + edges[1:]) / 2.0
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def shift_stack(mask):
    """The 3x3 neighbourhood of each pixel as a (9, H, W) stack (edge-padded)."""
    p = np.pad(mask, 1, mode="edge")
    h, w = mask.shape
    return np.stack([p[i:i + h, j:j + w] for i in range(3) for j in range(3)])


def dilate(mask, steps=1):
    """Binary dilation with a 3x3 square, `steps` times."""
    for _ in range(steps):
        mask = shift_stack(mask).any(axis=0)
    return mask


def erode(mask, steps=1):
    """Binary erosion with a 3x3 square, `steps` times."""
    for _ in range(steps):
        mask = shift_stack(mask).all(axis=0)
    return mask


def components(mask):
    """Label 8-connected components: int array, -1 outside the mask."""
    big = mask.size
    labels = np.where(mask, np.arange(big).reshape(mask.shape), big)
    while True:
        p = np.pad(labels, 1, constant_values=big)
        h, w = mask.shape
        neigh = np.stack([p[i:i + h, j:j + w] for i in range(3) for j in range(3)]).min(axis=0)
        new = np.where(mask, neigh, big)
        if np.array_equal(new, labels):
            return np.where(mask, labels, -1)
        labels = new


def object_mask(dist):
    """Main object: Otsu threshold of the distance map, heaviest component."""
    mask = dist > otsu_threshold(dist.ravel())
    labels = components(mask)
    ids = np.unique(labels[labels >= 0])
    weights = [dist[labels == i].sum() for i in ids]
    return labels == ids[int(np.argmax(weights))]


def object_colour(img, dist, mask):
    """Mean colour of the object's core (its most distinct pixels)."""
    core = mask & (dist >= 0.8 * np.percentile(dist[mask], 95))
    return img[core].mean(axis=0), core


def coverage_map(img, bg, obj, mask):
    """Soft object coverage per pixel from the background->object projection.

    Linear in the pixels, so zero-mean noise cancels in sums; pixels two
    steps inside the mask count as fully covered, pixels more than two steps
    outside as empty.
    """
    v = obj - bg
    c = ((img - bg) @ v) / max(float(v @ v), 1e-12)
    c = np.clip(c, -0.5, 1.5)
    c[erode(mask, 2)] = 1.0
    c[~dilate(mask, 2)] = 0.0
    return c


def circular_mean_hue(rgb, weights):
    """Weighted circular mean hue of an (n, 3) array of colours."""
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb])
    w = weights * hsv[:, 1] * hsv[:, 2]   # chroma-weighted
    ang = 2.0 * math.pi * hsv[:, 0]
    mean = math.atan2(float((w * np.sin(ang)).sum()), float((w * np.cos(ang)).sum()))
    return (mean / (2.0 * math.pi)) % 1.0


def skewness(profile):
    """Skewness of a 1-D non-negative profile taken as a distribution."""
    t = np.arange(len(profile)) + 0.5
    total = max(float(profile.sum()), 1e-12)
    mean = float((profile * t).sum()) / total
    var = float((profile * (t - mean) ** 2).sum()) / total
    third = float((profile * (t - mean) ** 3).sum()) / total
    return third / max(var, 1e-12) ** 1.5


def elongation(c):
    """Ratio of the principal standard deviations of a coverage map (>= 1)."""
    total = max(float(c.sum()), 1e-12)
    rows, cols = np.mgrid[0:c.shape[0], 0:c.shape[1]] + 0.5
    my, mx = float((c * rows).sum()) / total, float((c * cols).sum()) / total
    dy, dx = rows - my, cols - mx
    cov = np.array([[(c * dx * dx).sum(), (c * dx * dy).sum()],
                    [(c * dx * dy).sum(), (c * dy * dy).sum()]]) / total
    low, high = np.linalg.eigvalsh(cov)
    return math.sqrt(high / max(low, 1e-12))


def shape_features(cov, area):
    """(roundness, asymmetry, elongation) of a coverage map; see the shape-feature notes."""
    c = np.clip(cov, 0.0, 1.0)       # clipped: noise cannot inflate the chords
    cols, rows = c.sum(axis=0), c.sum(axis=1)
    roundness = area / max(float(cols.max() * rows.max()), 1e-12)
    asymmetry = math.hypot(skewness(cols), skewness(rows))
    return roundness, asymmetry, elongation(c)


def empty_measurement(bg):
    """Result for an image without a detectable object."""
    _, bg_s, bg_v = colorsys.rgb_to_hsv(*bg)
    nan = float("nan")
    return {"shape": "none", "hue": nan, "size": 0.0, "x": nan, "y": nan,
            "roundness": nan, "asymmetry": nan, "elongation": nan,
            "bg_value": bg_v, "bg_saturation": bg_s,
            "bg_hue": colorsys.rgb_to_hsv(*bg)[0], "contrast": 0.0}


def measure(image):
    """Recover the factors of a shapes image (uint8, or float in [0, 1]).

    Returns shape, size (equal-area radius), x, y (coverage centroid), hue
    (circular mean of the object core), roundness (area / bounding box,
    circle ~0.785, bar ~1, triangle ~0.5-0.6), asymmetry (projection
    skewness, triangle ~0.57, others ~0), elongation (circle ~1, bar ~2,
    triangle ~1.7; pixels blur it towards 1), bg_value/bg_hue/bg_saturation,
    obj_value/obj_saturation, area (fraction of the image) and contrast
    (colour distance object-background).  Lengths are fractions of the side.
    """
    img = to_float_rgb(image)
    h, w = img.shape[:2]
    bg = border_colour(img)
    dist = np.linalg.norm(img - bg, axis=2)
    if dist.max() < 0.05:
        return empty_measurement(bg)
    mask = object_mask(dist)
    obj, core = object_colour(img, dist, mask)
    cov = coverage_map(img, bg, obj, mask)
    area = float(cov.sum())
    if area <= 0.0:
        return empty_measurement(bg)
    rows, cols = np.mgrid[0:h, 0:w]
    side = float(min(h, w))
    roundness, asymmetry, stretch = shape_features(cov, area)
    bg_h, bg_s, bg_v = colorsys.rgb_to_hsv(*bg)
    _, obj_s, obj_v = colorsys.rgb_to_hsv(*obj)
    return {
        "shape": classify_shape(roundness, asymmetry, stretch),
        "hue": circular_mean_hue(img[core], dist[core]),
        "size": math.sqrt(area / math.pi) / side,
        "x": float(((cols + 0.5) * cov).sum() / area / w),
        "y": float(((rows + 0.5) * cov).sum() / area / h),
        "roundness": roundness, "asymmetry": asymmetry, "elongation": stretch,
        "bg_value": bg_v, "bg_hue": bg_h, "bg_saturation": bg_s,
        "obj_value": obj_v, "obj_saturation": obj_s,
        "area": area / (h * w),
        "contrast": float(np.linalg.norm(obj - bg)),
    }


if __name__ == "__main__":
    for i in range(5):
        im, f = generate(i)
        m = measure(im)
        print(i, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in f.items()})
        print("  ", {k: (round(m[k], 3) if isinstance(m[k], float) else m[k]) for k in f})
