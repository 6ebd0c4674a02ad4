from test_tutor_panel import test_error_gives_a_hint_in_the_panel, test_browser_closed_during_long_cell_then_reopened  # noqa
from test_tutor_remote_content import lab  # noqa  (this checkout's build)
import pytest
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
