"""Settings from config/consumer.toml plus the environment (load.py, the only reader of
os.environ): frozen dataclasses that declare each setting once with its default (model.py),
the section tables derived from them and the one validator of every table (schema.py), the
source tables (sources.py), and the sender presets and signature schemes (presets.py).
"""

from consumer.settings.load import (
    DEFAULT_CONFIG,
    load_settings,
    section_defaults,
    settings_from_dict,
)
from consumer.settings.model import (
    DEFAULT_BASE_URL,
    AlertSettings,
    DeliverySettings,
    IntakeSettings,
    RetentionSettings,
    Settings,
    SourceConfig,
    Target,
    ZeegSettings,
)
from consumer.settings.sources import SANDBOX_SOURCE, sandbox_source

# Re-exported: the rest of the package reads every setting from this module.
__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CONFIG",
    "SANDBOX_SOURCE",
    "AlertSettings",
    "DeliverySettings",
    "IntakeSettings",
    "RetentionSettings",
    "Settings",
    "SourceConfig",
    "Target",
    "ZeegSettings",
    "load_settings",
    "sandbox_source",
    "section_defaults",
    "settings_from_dict",
]
