"""Fixtures of the interpolation tests."""

import pytest
import video_media


@pytest.fixture(scope="session")
def ffmpeg_tools():
    """Fails, never skips, without FFmpeg's command-line tools: CI must not pass without the checks that
    need them (the video clips are made, probed and decoded with them)."""
    try:
        video_media.require_ffmpeg()
    except RuntimeError as error:
        pytest.fail(str(error))
