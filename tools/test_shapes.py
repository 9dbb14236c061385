#!/usr/bin/python3
"""Self-test of tools/shapes.py: generation and measurement.

For each generator version (shapes.VERSIONS), on 500 generated images (seed
2024), measure() must recover, for every image: size within 0.015, centroid
within 0.03 (Euclidean), hue within 0.03 (circular), background value within
0.05; and each binary attribute derived from the measurement must agree with
the generated label for >= 97% of the images.  Every image counts, borderline
ones included (the agreement without the images whose true factor lies within
the tolerance of the attribute's threshold is printed too, for information).
The same must hold with the tolerances doubled after a 3x3 box blur and
additive Gaussian noise of sigma 0.03 (of the 0..1 range).  Also checked:
determinism, label base rates, that measure_attribute() moves the right way
when one factor is changed, that version 2 draws no turns, that version 3
stands bars and triangles on end (version 4 every shape) and keeps every
object inside the frame, and that versions 2 and 3 draw the nominal aspects.

In every version the measured elongation must follow the drawn one
(correlation >= 0.98, >= 0.95 after blur and noise, which lower it by about
0.07).  Version 4 draws each shape's width / height from a range, so `round` is
a threshold on a continuous elongation (an ellipse of elongation 1.5): there
the 3-way shape check skips the elongated ellipses (which measure() names bars:
shape_coordinates() puts them between circle and bar), and the images whose
circularity lies within ROUND_BORDER x k of the threshold are left out of the
`round` agreement, which blur moves across it (versions 2 and 3 have none).

Exit status 0 on success, 1 on any failure.
"""
import math
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

N_IMAGES = 500
SEED = 2024
TOL = {"size": 0.015, "centroid": 0.03, "hue": 0.03, "bg_value": 0.05}
MIN_AGREEMENT = 0.97
ROUND_BORDER = 0.05         # circularity; for an ellipse the same as its elongation
# Attributes whose agreement is judged on the non-borderline images only (see the docstring).
JUDGED_AWAY_FROM_BORDER = ("round",)
NOISE_SIGMA = 0.03


def near_threshold(name, factors, width):
    """True if the drawn score of attribute `name` lies within `width` of its threshold."""
    return abs(shapes.attribute_score(name, factors) - shapes.ATTRIBUTE_THRESHOLDS[name]) < width


# How far from its attribute's threshold an image must be not to count as borderline, with
# the tolerances scaled by k (red: by the hue distance, in hue units rather than the score's).
BORDER = {
    "large": lambda f, k: near_threshold("large", f, TOL["size"] * k),
    "red": lambda f, k: abs(shapes.hue_distance(f["hue"], 0.0) - shapes.RED_WIDTH) < TOL["hue"] * k,
    "round": lambda f, k: near_threshold("round", f, ROUND_BORDER * k),
    "left": lambda f, k: near_threshold("left", f, TOL["centroid"] * k),
    "light_bg": lambda f, k: near_threshold("light_bg", f, TOL["bg_value"] * k),
}

failures = []


def expected_shape(factors):
    """The name measure() should give, or None for an elongated ellipse (see the docstring)."""
    if factors["shape"] != "circle":
        return factors["shape"]
    return "circle" if shapes.attributes(factors)["round"] else None


def check(ok, message):
    """Record and print one check."""
    print(("  ok    " if ok else "  FAIL  ") + message)
    if not ok:
        failures.append(message)


def degrade(image, rng):
    """3x3 box blur (edge-replicated) plus Gaussian noise, float in [0, 1]."""
    img = image.astype(np.float64) / 255.0
    h, w = img.shape[:2]
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
    blur = sum(p[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0
    return np.clip(blur + rng.normal(0.0, NOISE_SIGMA, blur.shape), 0.0, 1.0)


def errors(truth, got):
    """Per-factor absolute errors of one measurement."""
    return {
        "size": abs(got["size"] - truth["size"]),
        "centroid": math.hypot(got["x"] - truth["x"], got["y"] - truth["y"]),
        "hue": shapes.hue_distance(got["hue"], truth["hue"]),
        "bg_value": abs(got["bg_value"] - truth["bg_value"]),
    }


def evaluate(name, samples, k):
    """Check measurement errors and attribute agreement; k scales tolerances."""
    print("%s (%d images, tolerances x%d)" % (name, len(samples), k))
    errs = {key: [] for key in TOL}
    agree = {a: [] for a in shapes.ATTRIBUTES}
    shape_ok = []
    stretch = []
    clear = {a: [] for a in shapes.ATTRIBUTES}
    for truth, image in samples:
        got = shapes.measure(image)
        for key, value in errors(truth, got).items():
            errs[key].append(value)
        if expected_shape(truth) is not None:
            shape_ok.append(got["shape"] == expected_shape(truth))
        stretch.append((shapes.nominal_elongation(truth["shape"], truth["aspect"]),
                        got["elongation"]))
        want, have = shapes.attributes(truth), shapes.attributes(got)
        for a in shapes.ATTRIBUTES:
            agree[a].append(want[a] == have[a])
            if not BORDER[a](truth, k):
                clear[a].append(want[a] == have[a])
    for key, tol in TOL.items():
        e = np.array(errs[key])
        check(bool(e.max() <= tol * k),
              "%-9s max err %.4f mean %.4f (tol %.3f)" % (key, e.max(), e.mean(), tol * k))
    check(np.mean(shape_ok) >= MIN_AGREEMENT,
          "shape     3-way accuracy %.4f (%d images)" % (np.mean(shape_ok), len(shape_ok)))
    drawn, measured = np.array(stretch).T
    corr = float(np.corrcoef(drawn, measured)[0, 1])
    check(corr >= (0.98 if k == 1 else 0.95), "elongation correlation %.4f, mean err %.3f"
          % (corr, float((measured - drawn).mean())))
    for a in shapes.ATTRIBUTES:
        acc = float(np.mean(agree[a]))
        acc_clear = float(np.mean(clear[a]))
        away = a in JUDGED_AWAY_FROM_BORDER
        check((acc_clear if away else acc) >= MIN_AGREEMENT,
              "%-9s agreement %.4f (all images; %.4f on %d non-borderline)%s"
              % (a, acc, acc_clear, len(clear[a]), ", judged on the latter" if away else ""))


def check_determinism():
    """Same (seed, stream, index) -> same image; other seed/stream -> other."""
    print("determinism")
    a, fa = shapes.generate(7, seed=3)
    b, fb = shapes.generate(7, seed=3)
    check(np.array_equal(a, b) and fa == fb, "generate() repeats exactly")
    c, _ = shapes.generate(7, seed=4)
    d, _ = shapes.generate(7, seed=3, stream=1)
    check(not np.array_equal(a, c) and not np.array_equal(a, d),
          "other seed / stream gives another image")
    check(a.shape == (32, 32, 3) and a.dtype == np.uint8, "uint8 32x32x3")
    big, _ = shapes.generate(7, size=64, seed=3)
    check(big.shape == (64, 64, 3), "size=64 gives 64x64x3")


def check_base_rates(factors, version):
    """Label frequencies near their design values (round: 1/3, or 1/4 in version 4)."""
    print("label base rates (%d images)" % len(factors))
    labels = [shapes.attributes(f) for f in factors]
    for a in shapes.ATTRIBUTES:
        rate = float(np.mean([lab[a] for lab in labels]))
        lo, hi = (0.27, 0.40) if a in ("red", "round") else (0.42, 0.58)
        if a == "round" and version == 4:
            lo, hi = 0.19, 0.31
        check(lo <= rate <= hi, "%-9s rate %.3f (expected %.2f..%.2f)" % (a, rate, lo, hi))


def check_monotonic():
    """measure_attribute() rises as one factor moves the attribute's way."""
    print("measure_attribute() direction")
    base = {"shape": "bar", "hue": 0.5, "bg_hue": 0.6, "bg_value": 0.4,
            "size": 0.16, "x": 0.5, "y": 0.5}
    sweeps = {
        "large": ("size", [0.11, 0.14, 0.17, 0.20]),
        "red": ("hue", [0.5, 0.35, 0.2, 0.05]),
        "left": ("x", [0.65, 0.55, 0.45, 0.35]),
        "light_bg": ("bg_value", [0.27, 0.4, 0.5, 0.63]),
        "round": ("shape", ["triangle", "circle"]),
    }
    for attr, (key, values) in sweeps.items():
        scores = [shapes.measure_attribute(attr, shapes.render(dict(base, **{key: v})))
                  for v in values]
        check(all(s1 < s2 for s1, s2 in zip(scores, scores[1:])),
              "%-9s %s" % (attr, " < ".join("%.3f" % s for s in scores)))
    bar = shapes.measure_attribute("round", shapes.render(base))
    ci = shapes.measure_attribute("round", shapes.render(dict(base, shape="circle")))
    check(bar < ci, "round     bar %.3f < circle %.3f" % (bar, ci))
    # A circle stretched 2:1 has a circle's roundness and no skew: only its elongation can
    # tell it from a circle, and an edit that stretches a circle must count as leaving it.
    drawn = shapes.render(dict(base, shape="circle", aspect=2.0))
    check(np.array_equal(drawn, ellipse_image(dict(base, shape="circle"), 2.0)),
          "a circle of aspect 2 is drawn as the ellipse of the circle's area")
    oval = shapes.measure_attribute("round", drawn)
    check(oval < shapes.CIRCULARITY_THRESHOLD < ci,
          "round     ellipse 2:1 %.3f < threshold %.1f < circle %.3f"
          % (oval, shapes.CIRCULARITY_THRESHOLD, ci))


def ellipse_image(factors, aspect, side=32, ss=shapes.SUPERSAMPLE):
    """A wide ellipse with the circle's area, drawn apart from shapes.inside() to check it."""
    t = (np.arange(side * ss) + 0.5) / (side * ss)
    gx, gy = np.meshgrid(t, t)
    a, b = factors["size"] * math.sqrt(aspect), factors["size"] / math.sqrt(aspect)
    hit = ((gx - factors["x"]) / a) ** 2 + ((gy - factors["y"]) / b) ** 2 <= 1.0
    return shapes.paint(hit.reshape(side, ss, side, ss).mean(axis=(1, 3)), factors)


def check_edge_cases():
    """A plain image has no object; 64x64 images measure as well as 32x32."""
    print("edge cases")
    plain = np.full((32, 32, 3), 100, np.uint8)
    check(shapes.measure(plain)["shape"] == "none", "plain image -> shape 'none'")
    worst = 0.0
    for i in range(50):
        image, truth = shapes.generate(i, size=64, seed=SEED)
        e = errors(truth, shapes.measure(image))
        worst = max(worst, max(e[k] / TOL[k] for k in TOL))
    check(worst <= 1.0, "64x64: worst error %.3f of tolerance" % worst)


def spread(c):
    """Vertical over horizontal standard deviation of a coverage map."""
    rows, cols = np.mgrid[0:c.shape[0], 0:c.shape[1]] + 0.5
    total = float(c.sum())
    sd = [math.sqrt(float((c * (t - (c * t).sum() / total) ** 2).sum()) / total)
          for t in (rows, cols)]
    return sd[0] / sd[1]


def check_turns(version, factors):
    """Version 2 draws nothing turned; versions 3 and 4 stand shapes on end, in frame."""
    print("turns and aspects, version %d" % version)
    turned = [f["turn"] != 0 for f in factors]
    want = [version == 4 or (version == 3 and f["shape"] != "circle") for f in factors]
    check(turned == want, "turned exactly the %s" % {2: "none", 3: "bars and triangles",
                                                     4: "shapes"}[version])
    aspects = np.array([f["aspect"] for f in factors])
    if version == 4:
        low, high = shapes.ASPECT_RANGE
        check(bool(aspects.min() >= low and aspects.max() <= high and aspects.std() > 0.25),
              "aspects drawn from %s (%.2f..%.2f)" % (shapes.ASPECT_RANGE, aspects.min(),
                                                     aspects.max()))
    else:
        check(all(f["aspect"] == shapes.nominal_aspect(f["shape"]) for f in factors),
              "aspects nominal (circle 1, bar and triangle %.0f)" % shapes.ASPECT)
    frame = [shapes.coverage(f, 32) for f in factors]
    if version >= 3:
        # version 4: a triangle of aspect 1 is a little wider than high on end (0.87)
        least = 1.5 if version == 3 else 0.85
        ratios = [spread(c) for f, c in zip(factors, frame) if f["turn"] != 0]
        check(min(ratios) > least, "turned shapes stand on end: height / width spread "
              ">= %.2f" % min(ratios))
        apexes = {f["turn"] for f in factors if f["shape"] == "triangle"}
        check(apexes == {1, 3}, "triangles point both ways (turns %s)" % sorted(apexes))
    edge = max(float(np.concatenate([c[0], c[-1], c[:, 0], c[:, -1]]).max()) for c in frame)
    check(edge == 0.0, "objects stay inside the frame (border coverage %.3f)" % edge)


def check_version(version):
    """Every check on one generator version's images."""
    print("== generator version %d" % version)
    samples = []
    for i in range(N_IMAGES):
        image, factors = shapes.generate(i, seed=SEED, version=version)
        samples.append((factors, image))
    check_base_rates([f for f, _ in samples], version)
    check_turns(version, [f for f, _ in samples])
    evaluate("clean", samples, 1)
    rng = np.random.default_rng(SEED)
    evaluate("blur 3x3 + noise sigma %.2f" % NOISE_SIGMA,
             [(f, degrade(im, rng)) for f, im in samples], 2)


def main():
    check_determinism()
    check_edge_cases()
    check_monotonic()
    for version in shapes.VERSIONS:
        check_version(version)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
