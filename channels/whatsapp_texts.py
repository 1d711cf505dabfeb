"""Every text the WhatsApp connector sends or shows on its own, in one place.

The connector answers these before (or without) the dialogue, so it does not know the chosen
language: replies carry both languages. Labels of list messages follow the script of the message
they belong to. Everything the dialogue says lives in `domain.yml`.
"""

from __future__ import annotations

from satark.language import DEVANAGARI

UNSUPPORTED = (
    "माफ़ कीजिए, इस तरह का संदेश हम नहीं पढ़ सकते। कृपया लिखकर बताइए, या फ़ोटो, वीडियो, "
    "वॉइस नोट, दस्तावेज़ या लोकेशन भेजिए।\n\n"
    "Sorry, we cannot read this kind of message. Please type it, or send a photo, video, "
    "voice note, document or location."
)
STALE_BUTTON = (
    "यह बटन अब मान्य नहीं है। कृपया सबसे नए संदेश के बटन इस्तेमाल कीजिए या अपना उत्तर लिखिए।\n\n"
    "This button is no longer valid. Please use the buttons on the latest message, or type your answer."
)
MEDIA_AGAIN = (
    "माफ़ कीजिए, आपकी फ़ाइल हम तक ठीक से नहीं पहुँची। कृपया इसे दोबारा भेजिए।\n\n"
    "Sorry, your file did not reach us properly. Please send it again."
)
MEDIA_TOO_LARGE = (
    "यह फ़ाइल बहुत बड़ी है (अधिकतम {mb} MB)। कृपया छोटी फ़ाइल भेजिए।\n\n"
    "This file is too large (at most {mb} MB). Please send a smaller one."
)
MEDIA_TYPE = (
    "इस तरह की फ़ाइल हम नहीं ले सकते। कृपया फ़ोटो, वीडियो, वॉइस नोट या PDF भेजिए।\n\n"
    "We cannot accept this kind of file. Please send a photo, video, voice note or PDF."
)
MEDIA_UNSAFE = (
    "माफ़ कीजिए, इस फ़ाइल से पहचान बताने वाली जानकारी (जैसे लोकेशन या नाम) हम सुरक्षित रूप से नहीं हटा पाए, "
    "इसलिए इसे सूचना में नहीं जोड़ा गया। आप इसे दूसरे रूप में भेज सकते हैं (जैसे फ़ोटो या स्क्रीनशॉट), "
    "या लिखकर बता सकते हैं।\n\n"
    "Sorry, we could not safely remove identifying details (such as location or names) from this file, "
    "so it was not added to your report. You can send it in another form (a photo or a screenshot) or "
    "describe it in words."
)
SLOW_DOWN = (
    "आप बहुत तेज़ी से संदेश भेज रहे हैं। कृपया एक मिनट रुककर फिर लिखिए। आपात स्थिति में 112 पर कॉल कीजिए।\n\n"
    "You are sending messages very fast. Please wait a minute and write again. In an emergency, call 112."
)
FAILURE = (
    "माफ़ कीजिए, अभी कुछ गड़बड़ हो गई। कृपया थोड़ी देर में फिर लिखिए। आपात स्थिति में 112 पर कॉल कीजिए।\n\n"
    "Sorry, something went wrong. Please write again in a moment. In an emergency, call 112."
)
# List messages: the button that opens the list, the body of its further pages, an empty body.
LIST_LABELS = {
    "hi": {"button": "चुनें", "more": "और विकल्प ({page}/{pages})", "empty": "चुनें:"},
    "en": {"button": "Choose", "more": "More options ({page}/{pages})", "empty": "Choose:"},
}


def list_labels(body: str) -> dict[str, str]:
    """The list labels in the language of the message they come with."""
    return LIST_LABELS["hi" if DEVANAGARI.search(body or "") else "en"]
