#!/bin/sh
# Regenerates the default voice prompts (run once; the WAVs are committed).
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox).
# Output: 8 kHz, 16-bit, mono PCM WAV, as switch.media.wav.read_wav expects.
set -eu
cd "$(dirname "$0")"
say() {
  espeak-ng -v en-us -s 150 -w /tmp/prompt-$$.wav "$2"
  sox /tmp/prompt-$$.wav -r 8000 -b 16 -c 1 -e signed-integer "$1.wav" norm -3 silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0 0.15
  rm -f /tmp/prompt-$$.wav
}
say greeting "The person you are calling is not available. Please leave a message after the tone."
say you_have "You have"
say new_message "new message"
say new_messages "new messages"
say old_message "saved message"
say old_messages "saved messages"
say and "and"
say no_messages "You have no messages."
say menu "To delete this message, press 7. To keep it, press 9. For the next message, press pound."
say deleted "Message deleted."
say saved "Message saved."
say no_more "No more messages. Goodbye."
say goodbye "Goodbye."
say done "Done."
n=0
for w in zero one two three four five six seven eight nine ten eleven twelve thirteen \
         fourteen fifteen sixteen seventeen eighteen nineteen twenty; do
  say "n$n" "$w"
  n=$((n + 1))
done
