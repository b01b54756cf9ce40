"""Print the webhook secret as receivers pass it to a Standard Webhooks library.

``python -m consumers.webhook_secret`` reads the key delivery signs with, from the same
environment (``NURTURE_DELIVERY_WEBHOOK_SECRET``, else ``NURTURE_DELIVERY_WEBHOOK_SECRET_FILE``,
else the per-install file, made on first use like delivery does), and prints its ``whsec_`` form
(:func:`consumers.webhook_signature.standard_secret`) for ``standardwebhooks.Webhook(secret)``.
It prints a secret: send it to the receiver the way you would send the key itself.
Exit 2 with one line for a weak or unreadable key or an invalid ``NURTURE_DELIVERY_*`` setting.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from consumers.settings import DeliverySettings
from consumers.webhook import webhook_secret
from consumers.webhook_signature import standard_secret
from schemas.errors import ConfigError


def main() -> int:
    try:
        secret = webhook_secret(DeliverySettings())
    except (ConfigError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            where = "NURTURE_DELIVERY_" + str(error["loc"][0]).upper() if error["loc"] else ""
            print(f"error: invalid setting {where}: {error['msg']}", file=sys.stderr)
        return 2
    print(standard_secret(secret))
    return 0


if __name__ == "__main__":
    sys.exit(main())
