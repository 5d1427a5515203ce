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
* Alertmanager runs in a container, where ``127.0.0.1`` is Alertmanager itself: a webhook or
  smarthost on the host's loopback is written as ``host.docker.internal``
  (:mod:`obskit.stack.host_gateway`; compose adds the ``host-gateway`` mapping).

Only keys Alertmanager 0.25 (Debian's amtool) accepts: no ``msteams_configs``.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import host_gateway
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


def rewritten_addresses(spec: Spec) -> list[tuple[str, str, str]]:
    """(spec field, as given, as Alertmanager's container reaches it) for every receiver
    address on the host's loopback."""
    found = []
    webhook = spec.alerting.webhook_url
    if webhook and host_gateway.for_container(webhook) != webhook:
        found.append(("alerting.webhook_url", webhook, host_gateway.for_container(webhook)))
    email = spec.alerting.email
    if email and host_gateway.address_for_container(email.smarthost) != email.smarthost:
        rewritten = host_gateway.address_for_container(email.smarthost)
        found.append(("alerting.email.smarthost", email.smarthost, rewritten))
    return found


def reaches_host(spec: Spec) -> bool:
    """Whether the container needs ``host.docker.internal`` (a receiver on the host)."""
    return bool(rewritten_addresses(spec))


def config(spec: Spec, *, in_container: bool = True) -> dict[str, Any]:
    """The config; ``in_container=False`` keeps the spec's addresses as they are, for an
    Alertmanager running on the host (``obskit demo``)."""
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
            {"name": DEFAULT, **_webhook(spec, in_container)},
            {
                "name": PAGE,
                **_webhook(spec, in_container),
                **_slack(spec),
                **_email(spec, in_container),
            },
            {
                "name": TICKET,
                **_webhook(spec, in_container),
                **_slack(spec),
                **_email(spec, in_container),
            },
            # The heartbeat goes to the webhook only: a chat message every 5 minutes is noise.
            {"name": WATCHDOG, **_webhook(spec, in_container)},
        ],
    }


def _webhook(spec: Spec, in_container: bool) -> dict[str, Any]:
    url = spec.alerting.webhook_url
    if not url:
        return {}
    if in_container:
        url = host_gateway.for_container(url)
    return {"webhook_configs": [{"url": url, "send_resolved": True}]}


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


def _email(spec: Spec, in_container: bool) -> dict[str, Any]:
    email = spec.alerting.email
    if email is None:
        return {}
    smarthost = email.smarthost
    if in_container:
        smarthost = host_gateway.address_for_container(smarthost)
    body: dict[str, Any] = {
        "to": email.to,
        "from": email.sender,
        "smarthost": smarthost,
        "require_tls": True,
        "send_resolved": True,
    }
    if email.auth_username:
        body["auth_username"] = email.auth_username
    if email.auth_password_file:
        body["auth_password_file"] = f"{SECRETS_DIR}/{SMTP_SECRET}"
    return {"email_configs": [body]}
