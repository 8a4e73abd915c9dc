"""Procedural pedestrians seen by procedural cameras: the pictures of the demo datasets.

An *identity* fixes what a person looks like (clothing colours and patterns, body shape, hair, accessories); a
*camera* fixes how it is seen (lighting and colour cast, background, scale and position, preferred walking
direction and view, blur, noise). Every picture adds its own jitter (pose, position, noise, occasional occluder),
so telling identities apart across cameras takes more than matching colours.

Everything is drawn with Pillow from a ``numpy.random.RandomState`` (whose streams numpy keeps stable), so the
same seed gives the same pixels.
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HEIGHT, WIDTH = 128, 64
SUPERSAMPLE = 2  # drawn at twice the size, then downsampled for smooth edges

CLOTHING_COLOURS = np.array([
    (200, 35, 40), (40, 70, 190), (40, 150, 60), (225, 195, 45), (235, 235, 228), (32, 32, 36), (128, 128, 132),
    (235, 130, 35), (120, 55, 150), (120, 80, 45), (45, 185, 195), (230, 140, 180), (28, 38, 92), (208, 190, 150),
    (108, 118, 52), (150, 30, 60)], dtype=np.float64)
TROUSER_COLOURS = np.array([
    (28, 38, 92), (32, 32, 36), (128, 128, 132), (208, 190, 150), (120, 80, 45), (60, 90, 150), (108, 118, 52),
    (235, 235, 228)], dtype=np.float64)
SKIN_COLOURS = np.array([(240, 205, 175), (215, 170, 130), (170, 120, 85), (110, 75, 50)], dtype=np.float64)
HAIR_COLOURS = np.array([(25, 20, 18), (80, 50, 30), (150, 110, 60), (200, 170, 110), (140, 140, 140)],
                        dtype=np.float64)
PATTERNS = ('plain', 'horizontal_stripes', 'vertical_stripes', 'split', 'chest_logo')
VIEWS = ('front', 'back', 'side')


def _pick(rng, colours, jitter=28.0):
    """One colour of ``colours`` with a small per-identity shift, as an RGB float array."""
    colour = colours[rng.randint(len(colours))] + rng.uniform(-jitter, jitter, 3)
    return np.clip(colour, 0, 255)


def _pick_other(rng, colours, avoid):
    """A colour of ``colours`` visibly different from ``avoid``."""
    while True:
        colour = _pick(rng, colours)
        if np.abs(colour - avoid).sum() > 120:
            return colour


def sample_identity(rng):
    """The appearance of one person: a dict of colours (RGB float arrays), shape factors and accessories."""
    top = _pick(rng, CLOTHING_COLOURS)
    bottom = _pick(rng, TROUSER_COLOURS)
    return {
        'height': rng.uniform(0.80, 1.0),
        'width': rng.uniform(0.80, 1.20),
        'head': rng.uniform(0.9, 1.1),
        'skin': _pick(rng, SKIN_COLOURS, 8.0),
        'hair': _pick(rng, HAIR_COLOURS, 8.0),
        'long_hair': rng.rand() < 0.3,
        'top': top,
        'top_second': _pick_other(rng, CLOTHING_COLOURS, top),
        'pattern': PATTERNS[rng.choice(len(PATTERNS), p=[0.35, 0.2, 0.15, 0.15, 0.15])],
        'stripe_width': rng.randint(4, 9),
        'long_sleeves': rng.rand() < 0.6,
        'bottom': bottom,
        'bottom_style': ('trousers', 'shorts', 'skirt')[rng.choice(3, p=[0.65, 0.2, 0.15])],
        'shoes': _pick(rng, np.concatenate([TROUSER_COLOURS, CLOTHING_COLOURS[:2]])),
        'backpack': _pick(rng, CLOTHING_COLOURS) if rng.rand() < 0.3 else None,
        'handbag': _pick(rng, CLOTHING_COLOURS) if rng.rand() < 0.2 else None,
        'hat': _pick(rng, CLOTHING_COLOURS) if rng.rand() < 0.2 else None,
    }


def _muted(colour):
    """``colour`` pulled half-way to its grey level: scenes are less saturated than clothes."""
    return (colour + colour.mean()) / 2


def sample_camera(rng):
    """How one camera sees: colour gains, brightness, background, framing, preferred view and direction, blur."""
    wall = _muted(rng.uniform(50, 210, 3))
    return {
        'gains': rng.uniform(0.88, 1.12, 3),
        'brightness': rng.uniform(0.85, 1.1),
        'background': rng.randint(4),
        'wall': wall,
        'wall_second': np.clip(wall + rng.uniform(-60, 60, 3), 0, 255),
        'floor': _muted(rng.uniform(50, 190, 3)),
        'horizon': rng.uniform(0.55, 0.8),
        'scale': rng.uniform(0.82, 1.0),
        'shift_y': rng.uniform(-0.04, 0.04),
        'view_probs': rng.dirichlet([1.5, 1.5, 1.0]),
        'flip_prob': rng.choice([0.15, 0.5, 0.85]),
        'blur': rng.uniform(0.0, 1.1),
        'noise': rng.uniform(2.0, 7.0),
    }


def sample_outdoor_camera(rng):
    """A camera of the second demo domain: dim, strongly tinted outdoor light, a higher and farther viewpoint
    (smaller people, more floor), more blur and noise than :func:`sample_camera`'s indoor-like cameras."""
    wall = _muted(rng.uniform(40, 150, 3)) * np.array([0.8, 0.95, 1.1])
    return {
        'gains': rng.uniform(0.78, 1.22, 3),
        'brightness': rng.uniform(0.7, 0.92),
        'background': rng.randint(4),
        'wall': np.clip(wall, 0, 255),
        'wall_second': np.clip(wall + rng.uniform(-40, 40, 3), 0, 255),
        'floor': _muted(rng.uniform(90, 230, 3)),
        'horizon': rng.uniform(0.3, 0.5),
        'scale': rng.uniform(0.75, 0.9),
        'shift_y': rng.uniform(-0.02, 0.03),
        'view_probs': rng.dirichlet([1.0, 1.0, 2.0]),
        'flip_prob': rng.choice([0.15, 0.5, 0.85]),
        'blur': rng.uniform(0.6, 1.3),
        'noise': rng.uniform(4.0, 9.0),
    }


def sample_winter_identity(rng):
    """A person of the second demo domain: :func:`sample_identity` in winter clothes (darker, duller colours,
    long sleeves and trousers more often, more hats)."""
    identity = sample_identity(rng)
    shade = rng.uniform(0.65, 0.9)
    for key in ('top', 'top_second', 'bottom', 'shoes'):
        identity[key] = _muted(identity[key]) * shade
    identity['long_sleeves'] = identity['long_sleeves'] or rng.rand() < 0.8
    if identity['bottom_style'] != 'trousers' and rng.rand() < 0.7:
        identity['bottom_style'] = 'trousers'
    if identity['hat'] is None and rng.rand() < 0.3:
        identity['hat'] = _muted(_pick(rng, CLOTHING_COLOURS)) * shade
    return identity


def sample_pose(rng, camera):
    """Per-picture randomness: view, walking phase, mirror, position/scale jitter, optional occluder."""
    return {
        'view': VIEWS[rng.choice(3, p=camera['view_probs'])],
        'phase': rng.uniform(0, 2 * np.pi),
        'flip': rng.rand() < camera['flip_prob'],
        'dx': rng.uniform(-0.08, 0.08),
        'dy': rng.uniform(-0.03, 0.03),
        'scale': rng.uniform(0.93, 1.07),
        'background_offset': rng.uniform(0, 1),
        'background_tint': rng.normal(0, 12, 3),
        'clutter': [(rng.uniform(0, 1, 4), _muted(rng.uniform(60, 200, 3))) for _ in range(rng.randint(3))],
        'occluder': rng.uniform(0, 1, 4) if rng.rand() < 0.1 else None,
    }


def next_pose(pose, rng, step):
    """The pose one video frame later: the walk advances, the person drifts a little."""
    pose = dict(pose)
    pose['phase'] += step
    pose['dx'] = float(np.clip(pose['dx'] + rng.uniform(-0.015, 0.015), -0.12, 0.12))
    pose['dy'] = float(np.clip(pose['dy'] + rng.uniform(-0.008, 0.008), -0.05, 0.05))
    pose['scale'] = float(np.clip(pose['scale'] + rng.uniform(-0.01, 0.01), 0.9, 1.1))
    return pose


def _rgb(colour, shade=1.0):
    return tuple(int(round(min(255.0, max(0.0, c * shade)))) for c in colour)


def _draw_background(draw, camera, pose, width, height):
    """The camera's scene, varied per picture: a wall (plain, panels, bricks or windows) above a floor, with
    some objects (grey-ish boxes) behind the person, all tinted by the picture's own lighting."""
    tint = pose['background_tint']
    offset = pose['background_offset']
    horizon = int(camera['horizon'] * height)
    draw.rectangle([0, 0, width, horizon], fill=_rgb(camera['wall'] + tint))
    draw.rectangle([0, horizon, width, height], fill=_rgb(camera['floor'] + tint))
    second = _rgb(camera['wall_second'] + tint)
    kind = camera['background']
    shift = int(offset * 40)
    if kind == 1:  # vertical panels
        for x in range(-40 + shift, width, 40):
            draw.rectangle([x, 0, x + 16, horizon], fill=second)
    elif kind == 2:  # bricks
        for row, y in enumerate(range(0, horizon, 14)):
            for x in range(-30 + shift + (row % 2) * 15, width, 30):
                draw.rectangle([x, y, x + 26, y + 10], fill=second)
    elif kind == 3:  # windows
        for x in range(-50 + shift, width, 50):
            draw.rectangle([x + 8, int(0.1 * horizon), x + 38, int(0.6 * horizon)], fill=second)
    # floor tiles seen in perspective
    floor_line = _rgb(camera['floor'] + tint, 0.8)
    for y in range(horizon, height, 18):
        draw.line([0, y, width, y], fill=floor_line, width=2)
    for (x, y, w, h), colour in pose['clutter']:
        left, top = x * width, y * horizon
        draw.rectangle([left, top, left + (0.1 + 0.3 * w) * width, top + (0.1 + 0.25 * h) * height],
                       fill=_rgb((colour + camera['wall']) / 2 + tint))


def _draw_top(draw, identity, view, box):
    """The shirt on the torso box, with its pattern (the chest logo only shows from the front)."""
    left, top, right, bottom = box
    draw.rectangle(box, fill=_rgb(identity['top']))
    second = _rgb(identity['top_second'])
    stripe = identity['stripe_width'] * SUPERSAMPLE
    pattern = identity['pattern']
    if pattern == 'horizontal_stripes':
        for y in range(int(top) + stripe, int(bottom), 2 * stripe):
            draw.rectangle([left, y, right, min(y + stripe - 1, bottom)], fill=second)
    elif pattern == 'vertical_stripes':
        for x in range(int(left) + stripe // 2, int(right), 2 * stripe):
            draw.rectangle([x, top, min(x + stripe - 1, right), bottom], fill=second)
    elif pattern == 'split':
        draw.rectangle([(left + right) / 2, top, right, bottom], fill=second)
    elif pattern == 'chest_logo' and view == 'front':
        cx, cy = (left + right) / 2, top + (bottom - top) * 0.35
        size = (right - left) * 0.22
        draw.rectangle([cx - size, cy - size, cx + size, cy + size], fill=second)


def _draw_person(draw, identity, pose, camera, width, height):
    """Draw the person standing on the floor, centred horizontally, in the pose's view and walking phase."""
    scale = camera['scale'] * pose['scale'] * identity['height'] * height * 0.86
    feet_y = height * (0.96 + camera['shift_y'] + pose['dy'])
    centre_x = width * (0.5 + pose['dx'])
    view = pose['view']
    side = view == 'side'
    body_width = scale * 0.34 * identity['width'] * (0.7 if side else 1.0)

    head_r = scale * 0.065 * identity['head']
    head_cy = feet_y - scale + head_r
    shoulder_y = head_cy + head_r * 1.35
    hip_y = feet_y - scale * 0.48
    knee_y = feet_y - scale * 0.25
    ankle_y = feet_y - scale * 0.04
    half = body_width / 2
    leg_w = body_width * (0.55 if side else 0.42)
    stride = np.sin(pose['phase']) * scale * (0.12 if side else 0.04)
    swing = np.sin(pose['phase']) * scale * (0.08 if side else 0.025)

    skin, bottom, shoes = _rgb(identity['skin']), _rgb(identity['bottom']), _rgb(identity['shoes'])
    sleeve = _rgb(identity['top']) if identity['long_sleeves'] else skin

    # back-pack seen from the front/side goes behind the body
    if identity['backpack'] is not None and side:
        draw.rectangle([centre_x - half - body_width * 0.45, shoulder_y + 4, centre_x - half + 2,
                        hip_y - scale * 0.06], fill=_rgb(identity['backpack']))

    # legs: two quadrilaterals from the hip to the swinging feet
    for sign in (-1, 1):
        hip_x = centre_x + sign * (0 if side else half - leg_w / 2)
        foot_x = hip_x + sign * stride
        leg = [(hip_x - leg_w / 2, hip_y), (hip_x + leg_w / 2, hip_y),
               (foot_x + leg_w * 0.4, ankle_y), (foot_x - leg_w * 0.4, ankle_y)]
        draw.polygon(leg, fill=skin if identity['bottom_style'] != 'trousers' else bottom)
        if identity['bottom_style'] == 'shorts':
            knee_x = hip_x + sign * stride * 0.5
            draw.polygon([leg[0], leg[1], (knee_x + leg_w * 0.48, knee_y), (knee_x - leg_w * 0.48, knee_y)],
                         fill=bottom)
        draw.rectangle([foot_x - leg_w * 0.55, ankle_y, foot_x + leg_w * 0.6, feet_y], fill=shoes)
    if identity['bottom_style'] == 'skirt':
        draw.polygon([(centre_x - half, hip_y - 2), (centre_x + half, hip_y - 2),
                      (centre_x + half * 1.35, knee_y), (centre_x - half * 1.35, knee_y)], fill=bottom)

    # arms: hanging at the torso edges (front/back) or swinging opposite to the legs (side, drawn later)
    arm_w = body_width * 0.22
    for sign in ((1,) if side else (-1, 1)):
        arm_x = centre_x if side else centre_x + sign * (half + arm_w * 0.45)
        hand_x = arm_x - swing * 3 if side else arm_x + sign * arm_w * 0.4 + swing
        hand_y = hip_y + scale * 0.02
        draw.polygon([(arm_x - arm_w / 2, shoulder_y), (arm_x + arm_w / 2, shoulder_y),
                      (hand_x + arm_w / 2, hand_y), (hand_x - arm_w / 2, hand_y)], fill=sleeve)
        if identity['handbag'] is not None and sign == 1:
            bag = _rgb(identity['handbag'])
            draw.rectangle([hand_x - arm_w, hand_y, hand_x + arm_w * 1.6, hand_y + scale * 0.11], fill=bag)

    # torso (a side view shows the arm over it, drawn after)
    torso = [centre_x - half, shoulder_y, centre_x + half, hip_y]
    _draw_top(draw, identity, view, torso)
    if side:
        hand_x = centre_x + swing * 3
        draw.polygon([(centre_x - arm_w / 2, shoulder_y), (centre_x + arm_w / 2, shoulder_y),
                      (hand_x + arm_w / 2, hip_y), (hand_x - arm_w / 2, hip_y)], fill=sleeve)

    if identity['backpack'] is not None:
        pack = _rgb(identity['backpack'])
        if view == 'back':
            draw.rectangle([centre_x - half * 0.5, shoulder_y + scale * 0.04, centre_x + half * 0.5,
                            hip_y - scale * 0.08], fill=pack)
        elif view == 'front':
            for sign in (-1, 1):
                x = centre_x + sign * half * 0.55
                draw.line([x, shoulder_y, x, shoulder_y + (hip_y - shoulder_y) * 0.7], fill=pack, width=4)

    # neck, head, hair, hat
    draw.rectangle([centre_x - head_r * 0.35, head_cy + head_r * 0.8, centre_x + head_r * 0.35, shoulder_y + 2],
                   fill=skin)
    hair = _rgb(identity['hair'])
    if identity['long_hair'] and view != 'front':
        draw.rectangle([centre_x - head_r * 0.95, head_cy, centre_x + head_r * 0.95, shoulder_y + head_r * 1.2],
                       fill=hair)
    draw.ellipse([centre_x - head_r, head_cy - head_r, centre_x + head_r, head_cy + head_r],
                 fill=hair if view == 'back' else skin)
    if view != 'back':
        draw.chord([centre_x - head_r, head_cy - head_r, centre_x + head_r, head_cy + head_r * 0.3],
                   180, 360, fill=hair)
    if identity['hat'] is not None:
        hat = _rgb(identity['hat'])
        draw.chord([centre_x - head_r * 1.05, head_cy - head_r * 1.15, centre_x + head_r * 1.05,
                    head_cy + head_r * 0.4], 180, 360, fill=hat)
        draw.rectangle([centre_x - head_r * 1.35, head_cy - head_r * 0.25, centre_x + head_r * 1.35,
                        head_cy - head_r * 0.05], fill=hat)


def _draw_occluder(draw, occluder, width, height):
    """A post or a box in front of the person (dark grey, placed by four uniform numbers)."""
    a, b, c, d = occluder
    shade = int(60 + 120 * d)
    if a < 0.5:  # post
        x = b * width
        draw.rectangle([x, 0, x + width * (0.08 + 0.1 * c), height], fill=(shade, shade, shade))
    else:  # box on the floor
        top = height * (0.65 + 0.2 * c)
        draw.rectangle([width * b * 0.5, top, width * (b * 0.5 + 0.5), height], fill=(shade, shade - 10, shade - 20))


def render(identity, camera, pose, noise_rng, person_visible=True):
    """One picture (HEIGHT x WIDTH RGB ``PIL.Image``) of ``identity`` seen by ``camera`` in ``pose``.

    Args:
        noise_rng (RandomState): draws the sensor noise.
        person_visible (bool): False draws the empty scene (a false detection, used for junk pictures).
    """
    width, height = WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE
    canvas = Image.new('RGB', (width, height))
    draw = ImageDraw.Draw(canvas)
    _draw_background(draw, camera, pose, width, height)
    if person_visible:
        _draw_person(draw, identity, pose, camera, width, height)
    if pose['occluder'] is not None:
        _draw_occluder(draw, pose['occluder'], width, height)
    if pose['flip']:
        canvas = canvas.transpose(Image.FLIP_LEFT_RIGHT)
    canvas = canvas.resize((WIDTH, HEIGHT), Image.BILINEAR, reducing_gap=None)
    if camera['blur'] > 0.05:
        canvas = canvas.filter(ImageFilter.GaussianBlur(camera['blur']))
    pixels = np.asarray(canvas, dtype=np.float64)
    pixels = pixels * camera['gains'] * camera['brightness']
    pixels = pixels + noise_rng.normal(0, camera['noise'], pixels.shape)
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
