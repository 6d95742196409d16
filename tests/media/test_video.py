"""Video decoding (tagscope.media.video): shots at known cuts, keyframes, broken files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.media.errors import MediaError
from tagscope.media.thumbnails import thumbnail_path
from tagscope.media.video import (
    KeyframePolicy,
    VideoScan,
    decoder_threads,
    probe_duration_ms,
    scan_video,
    sharpness,
)

RED, GREEN, BLUE, GREY = (220, 30, 30), (30, 200, 40), (20, 40, 210), (128, 128, 128)
SCENE = KeyframePolicy.parse("scene")


def _scan(path: Path, tmp_path: Path, policy: KeyframePolicy = SCENE) -> VideoScan:
    return scan_video(path, tmp_path / f"kf-{path.stem}-{policy.every_ms}", policy=policy)


def _colour(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32).mean(axis=(0, 1))


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".mkv", ".mov"])
def test_cuts_are_found_at_their_frame_in_every_container(
    make_video: Callable[..., Path], tmp_path: Path, suffix: str
) -> None:
    video = make_video(tmp_path / f"blocks{suffix}", [(RED, 30), (GREEN, 40), (BLUE, 35)])
    scan = _scan(video, tmp_path)
    assert [(s.start_frame, s.end_frame) for s in scan.shots] == [(0, 30), (30, 70), (70, 105)]
    assert [(s.start_ms, s.end_ms) for s in scan.shots] == [(0, 1200), (1200, 2800), (2800, 4200)]
    info = scan.info
    assert (info.width, info.height, info.n_frames, info.fps) == (160, 96, 105, 25.0)
    assert info.duration_ms == pytest.approx(4200, abs=40)
    assert info.codec in {"mpeg4", "vp8"}


def test_a_cut_in_the_last_frames_is_found(make_video: Callable[..., Path], tmp_path: Path) -> None:
    # Fewer frames than the detector takes at a time: all of them are seen at the end.
    video = make_video(tmp_path / "short.mp4", [(RED, 15), (GREEN, 15)])
    scan = _scan(video, tmp_path)
    assert [(s.start_frame, s.end_frame) for s in scan.shots] == [(0, 15), (15, 30)]
    assert [k.shot for k in scan.keyframes] == [0, 1]


def test_a_slow_pan_is_not_cut(
    make_video: Callable[..., Path], tmp_path: Path, imagenette: Path
) -> None:
    photo = np.asarray(
        Image.open(next(imagenette.rglob("*.JPEG"))).convert("RGB").resize((320, 200))
    )

    def pan(i: int) -> np.ndarray:
        return photo[50:146, i * 2 : i * 2 + 160]  # 2 pixels a frame to the right

    video = make_video(tmp_path / "pan.mp4", [(RED, 30), (pan, 60), (BLUE, 30)])
    scan = _scan(video, tmp_path)
    assert [s.start_frame for s in scan.shots] == [0, 30, 90]


def test_a_dissolve_between_photos_is_one_cut_inside_it(
    make_video: Callable[..., Path], tmp_path: Path, imagenette: Path
) -> None:
    a, b = (
        np.asarray(Image.open(f).convert("RGB").resize((160, 96)), dtype=np.float32)
        for f in sorted(imagenette.rglob("*.JPEG"))[:2]
    )

    def dissolve(i: int) -> np.ndarray:  # frames 40-51
        t = (i + 1) / 13
        return (a * (1 - t) + b * t).astype(np.uint8)

    shots = [(lambda i: a.astype(np.uint8), 40), (dissolve, 12), (lambda i: b.astype(np.uint8), 40)]
    scan = _scan(make_video(tmp_path / "dissolve.mp4", shots), tmp_path)
    assert len(scan.shots) == 2
    assert 40 <= scan.shots[1].start_frame <= 52


def test_a_fade_to_black_is_one_cut_inside_the_black(
    make_video: Callable[..., Path], tmp_path: Path
) -> None:
    red, blue = np.array(RED), np.array(BLUE)

    def fade_out(i: int) -> np.ndarray:  # frames 40-49, the last one black
        return np.full((96, 160, 3), red * (1 - (i + 1) / 10), np.uint8)

    def fade_in(i: int) -> np.ndarray:  # frames 55-64
        return np.full((96, 160, 3), blue * (i + 1) / 10, np.uint8)

    shots = [(RED, 40), (fade_out, 10), ((0, 0, 0), 5), (fade_in, 10), (BLUE, 40)]
    scan = _scan(make_video(tmp_path / "fade.mp4", shots), tmp_path)
    assert len(scan.shots) == 2
    assert 49 <= scan.shots[1].start_frame <= 55


def test_keyframes_at_a_fixed_rate_fall_in_their_shots(
    make_video: Callable[..., Path], tmp_path: Path
) -> None:
    video = make_video(tmp_path / "rate.mp4", [(RED, 30), (GREEN, 40), (BLUE, 30)])
    scan = _scan(video, tmp_path, KeyframePolicy.parse("every:1s"))
    assert [(k.index, k.frame, k.time_ms, k.shot) for k in scan.keyframes] == [
        (0, 0, 0, 0),
        (1, 25, 1000, 0),
        (2, 50, 2000, 1),
        (3, 75, 3000, 2),
    ]
    colours = [_colour(k.path) for k in scan.keyframes]
    for colour, expected in zip(colours, [RED, RED, GREEN, BLUE], strict=True):
        assert np.abs(colour - expected).max() < 12


def test_keyframe_thumbnails_are_made_from_the_frames_under_the_files_hash(
    make_video: Callable[..., Path], tmp_path: Path
) -> None:
    video = make_video(tmp_path / "big.mp4", [(RED, 30), (BLUE, 30)], size=(640, 360))
    thumbs = tmp_path / "thumbs"
    scan = scan_video(video, tmp_path / "kf", policy=SCENE, thumbnails=thumbs)
    assert len(scan.keyframes) == 2
    for keyframe, colour in zip(scan.keyframes, [RED, BLUE], strict=True):
        content_hash = hashlib.sha256(keyframe.path.read_bytes()).hexdigest()
        thumb = thumbnail_path(thumbs, content_hash)
        with Image.open(thumb) as im:
            assert im.size == (256, 144)
        assert np.abs(_colour(thumb) - colour).max() < 12
    assert len(list(thumbs.rglob("*.jpg"))) == 2
    # Without a folder, none is made.
    scan_video(video, tmp_path / "kf2", policy=SCENE)
    assert len(list(thumbs.rglob("*.jpg"))) == 2


def test_a_scene_keyframe_is_the_sharpest_frame_of_the_shots_middle(
    make_video: Callable[..., Path], tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    noise = np.clip(128 + rng.normal(0, 10, (96, 160, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
    flat = np.full((96, 160, 3), 128, np.uint8)

    def grey(i: int) -> np.ndarray:
        return noise if i == 22 else flat  # frame 30 + 22 = 52, in the middle third

    video = make_video(tmp_path / "sharp.mp4", [(RED, 30), (grey, 45), (BLUE, 30)])
    scan = _scan(video, tmp_path)
    assert [s.start_frame for s in scan.shots] == [0, 30, 75]
    assert [k.shot for k in scan.keyframes] == [0, 1, 2]
    assert scan.keyframes[1].frame == 52
    for k, shot in zip(scan.keyframes, scan.shots, strict=True):
        third = (shot.end_frame - shot.start_frame) / 3
        assert shot.start_frame + third <= k.frame <= shot.end_frame - third
    assert np.abs(_colour(scan.keyframes[2].path) - BLUE).max() < 12


def test_the_sample_video_scans_the_same_every_time(shared_dir: Path, tmp_path: Path) -> None:
    video = shared_dir / "data" / "video" / "echo-hereweare.webm"
    first = _scan(video, tmp_path / "a", KeyframePolicy.parse("every:1s"))
    again = _scan(video, tmp_path / "b", KeyframePolicy.parse("every:1s"))
    assert first.shots == again.shots
    assert len(first.shots) > 3
    assert first.info.duration_ms == 44652
    # A keyframe a second: the first frame at or after each whole second.
    times = [k.time_ms for k in first.keyframes]
    assert len(times) == 45
    assert all(s * 1000 <= t < s * 1000 + 200 for s, t in enumerate(times))
    assert probe_duration_ms(video) == 44652


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(MediaError, match="not a readable video"):
        _scan(fake, tmp_path)
    assert probe_duration_ms(fake) == 0


def test_a_truncated_video_is_refused(make_video: Callable[..., Path], tmp_path: Path) -> None:
    video = make_video(tmp_path / "whole.webm", [(RED, 50), (GREEN, 50), (BLUE, 50)])
    cut = tmp_path / "cut.webm"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(MediaError, match=r"truncated|corrupt"):
        _scan(cut, tmp_path)


def test_a_file_with_no_video_stream_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with pytest.raises(MediaError, match="no video stream"):
        _scan(path, tmp_path)


@pytest.mark.parametrize(
    ("spec", "every_ms"),
    [("scene", None), ("every:1s", 1000), ("every:0.5s", 500), ("every:250ms", 250)],
)
def test_keyframe_policies_parse(spec: str, every_ms: int | None) -> None:
    assert KeyframePolicy.parse(spec).every_ms == every_ms


@pytest.mark.parametrize("spec", ["every", "every:1", "every:5ms", "shots", "every:-1s"])
def test_bad_keyframe_policies_name_the_field(spec: str) -> None:
    with pytest.raises(ValidationError) as info:
        KeyframePolicy.parse(spec)
    assert info.value.field == "keyframes"


def test_sharpness_tells_texture_from_flat() -> None:
    rng = np.random.default_rng(1)
    assert sharpness(np.full((20, 20), 100, np.uint8)) == 0.0
    assert sharpness(rng.integers(0, 255, (20, 20)).astype(np.uint8)) > 1000


@pytest.mark.parametrize(
    ("at_once", "cpus", "threads"),
    [(1, 1, 1), (1, 2, 2), (1, 16, 2), (2, 2, 1), (3, 2, 1), (4, 16, 2)],
)
def test_videos_decoded_side_by_side_share_the_cpus(at_once: int, cpus: int, threads: int) -> None:
    assert decoder_threads(at_once, cpus) == threads
