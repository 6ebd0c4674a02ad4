"""jupyter_events schemas emitted by ltt-ext."""

from pathlib import Path

EVENTS_DIR = Path(__file__).parent

TUTOR_MESSAGE_URI = "https://schema.ltt-ext.org/tutor/message/v1"
TUTOR_MESSAGE_SCHEMA = EVENTS_DIR / "tutor_message.yaml"
