"""What every config section shares: strict models (an unknown key is an error)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SCORE_MIN, SCORE_MAX = 1, 10


class _Strict(BaseModel):
    # strict: YAML's `true` is not the number 1 and 1.0e30 is not a count;
    # floats still take ints. NaN and infinity are never a setting.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)
