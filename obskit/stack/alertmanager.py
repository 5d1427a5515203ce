"""``alertmanager/alertmanager.yml``: where alerts go.

* Grouped by ``alertname`` and ``service``; ``severity=page`` goes to the ``page`` receiver
  (repeats hourly), ``severity=ticket`` to ``ticket`` (twice a day), the always-firing
  ``Watchdog`` to ``watchdog`` (a heartbeat every few minutes: when it stops, alerting is
  broken); anything else to ``default``.
* A page inhibits tickets for the same service (``equal: [service]``; every generated alert
  carries ``service``, so the inhibition can never mute unrelated alerts).
* Receivers: the spec's webhook; Slack and e-mail when configured, their credentials read from
  files (``api_url_file``, ``auth_password_file``) that compose mounts as Docker secrets, so no
  secret ever sits in a generated file.

Only keys Alertmanager 0.25 (Debian's amtool) accepts: no ``msteams_configs``.
"""

from __future__ import annotations

from typing import Any

from obskit.stack.spec import Spec

PATH = "alertmanager/alertmanager.yml"

# Docker secrets compose mounts into the Alertmanager container (see obskit.stack.compose).
SLACK_SECRET = "alertmanager_slack_api_url"
SMTP_SECRET = "alertmanager_smtp_password"
SECRETS_DIR = "/run/secrets"

PAGE = "page"
TICKET = "ticket"
WATCHDOG = "watchdog"
DEFAULT = "default"
WATCHDOG_ALERT = "Watchdog"
GROUP_BY = ["alertname", "service"]
INHIBIT_EQUAL = ["service"]

SLACK_TITLE = (
    "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.service }})"
)
SLACK_TEXT = (
    "{{ range .Alerts }}{{ .Annotations.summary }}: {{ .Annotations.description }}\n{{ end }}"
)


def files(spec: Spec) -> dict[str, Any]:
    return {PATH: config(spec)}


def secret_files(spec: Spec) -> dict[str, str]:
    """Docker secret name -> the spec's file path (relative to the output directory)."""
    found: dict[str, str] = {}
    if spec.alerting.slack:
        found[SLACK_SECRET] = spec.alerting.slack.api_url_file
    if spec.alerting.email and spec.alerting.email.auth_password_file:
        found[SMTP_SECRET] = spec.alerting.email.auth_password_file
    return found


def config(spec: Spec) -> dict[str, Any]:
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": DEFAULT,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": WATCHDOG,
                    "matchers": [f'alertname="{WATCHDOG_ALERT}"'],
                    "group_wait": "0s",
                    "group_interval": "1m",
                    "repeat_interval": "5m",
                },
                {
                    "receiver": PAGE,
                    "matchers": ['severity="page"'],
                    "group_wait": "30s",
                    "repeat_interval": "1h",
                },
                {
                    "receiver": TICKET,
                    "matchers": ['severity="ticket"'],
                    "group_wait": "2m",
                    "repeat_interval": "12h",
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="page"'],
                "target_matchers": ['severity="ticket"'],
                "equal": INHIBIT_EQUAL,
            }
        ],
        "receivers": [
            {"name": DEFAULT, **_webhook(spec)},
            {"name": PAGE, **_webhook(spec), **_slack(spec), **_email(spec)},
            {"name": TICKET, **_webhook(spec), **_slack(spec), **_email(spec)},
            # The heartbeat goes to the webhook only: a chat message every 5 minutes is noise.
            {"name": WATCHDOG, **_webhook(spec)},
        ],
    }


def _webhook(spec: Spec) -> dict[str, Any]:
    if not spec.alerting.webhook_url:
        return {}
    return {"webhook_configs": [{"url": spec.alerting.webhook_url, "send_resolved": True}]}


def _slack(spec: Spec) -> dict[str, Any]:
    slack = spec.alerting.slack
    if slack is None:
        return {}
    return {
        "slack_configs": [
            {
                "api_url_file": f"{SECRETS_DIR}/{SLACK_SECRET}",
                "channel": slack.channel,
                "send_resolved": True,
                "title": SLACK_TITLE,
                "text": SLACK_TEXT,
            }
        ]
    }


def _email(spec: Spec) -> dict[str, Any]:
    email = spec.alerting.email
    if email is None:
        return {}
    body: dict[str, Any] = {
        "to": email.to,
        "from": email.sender,
        "smarthost": email.smarthost,
        "require_tls": True,
        "send_resolved": True,
    }
    if email.auth_username:
        body["auth_username"] = email.auth_username
    if email.auth_password_file:
        body["auth_password_file"] = f"{SECRETS_DIR}/{SMTP_SECRET}"
    return {"email_configs": [body]}
