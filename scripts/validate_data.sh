#!/usr/bin/env bash
# `rasa data validate`, failing on any warning except two kinds that are expected here:
# responses uttered by custom actions and forms (Rasa only counts those named in stories), and
# intents that only WhatsApp's connector sends as payloads (no NLU examples by design).
set -uo pipefail
out="$(.venv/bin/rasa data validate --max-history 5 2>&1)"; status=$?
echo "$out" | grep -E "UserWarning|ERROR|CONFLICT|conflicts? (were )?found:" | sed 's/\x1b\[[0-9;]*m//g' > var/validate.log
unexpected="$(grep -vE "The utterance 'utter_[a-z_]+' is not used in any story or rule|The intent '(share_evidence|share_location|choose_category)' is listed in the domain file, but is not found in the NLU training data" var/validate.log)"
if [ $status -ne 0 ] || [ -n "$unexpected" ]; then
  echo "$out" | tail -40; echo "Unexpected validation problems:"; echo "$unexpected"; exit 1
fi
echo "rasa data validate: no errors, no story conflicts, no unexpected warnings"
