"""Log retention in days (as cdk.json says it) to CDK's RetentionDays."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from cdk.config import RETENTION_DAYS

# RetentionDays lists the same periods in the same order, then INFINITE.
_BY_DAYS = dict(
    zip(RETENTION_DAYS, [m for m in logs.RetentionDays if m is not logs.RetentionDays.INFINITE], strict=True)
)


def retention(days: int) -> logs.RetentionDays:
    return _BY_DAYS[days]
