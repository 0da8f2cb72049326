"""Real media for tests: a video made by ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_video(path: Path, seconds: int = 6) -> Path:
    """Write a real H.264/AAC MP4 of noise (noise does not compress: about 35 MB)."""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "color=c=gray:s=640x360:r=25,noise=alls=60:allf=t",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
            str(path),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path
