"""Extractive-QA prompts, written per language: the instruction and labels in the question's language.

The paper prompts each XQuAD/MLQA language in that language (an English instruction pulls answers
towards English). These wordings are ours. Each asks for a short answer taken from the passage,
which suits EM/F1 as well as the paper's inclusion match. Languages without an entry fall back to
English. Bump ``PROMPT_VERSION`` whenever a wording changes: it is part of the settings
fingerprint, so stored predictions made with an old wording are not reused.
"""

from __future__ import annotations

PROMPT_VERSION = 1

# lang -> (instruction, passage label, question label)
QA_PROMPTS: dict[str, tuple[str, str, str]] = {
    "en": ("Read the passage and answer the question. Answer briefly, using words from the passage.",
           "Passage:", "Question:"),
    "zh": ("阅读下面的段落并回答问题。请用段落中的原词简短作答。", "段落：", "问题："),
    "vi": ("Đọc đoạn văn và trả lời câu hỏi. Hãy trả lời ngắn gọn bằng từ ngữ trong đoạn văn.",
           "Đoạn văn:", "Câu hỏi:"),
    "ar": ("اقرأ النص ثم أجب عن السؤال. أجب باختصار مستخدمًا كلمات من النص.", "النص:", "السؤال:"),
    "el": ("Διάβασε το κείμενο και απάντησε στην ερώτηση. Απάντησε σύντομα, με λέξεις από το κείμενο.",
           "Κείμενο:", "Ερώτηση:"),
    "hi": ("अनुच्छेद पढ़िए और प्रश्न का उत्तर दीजिए। अनुच्छेद के शब्दों में संक्षेप में उत्तर दीजिए।",
           "अनुच्छेद:", "प्रश्न:"),
    "tr": ("Metni okuyun ve soruyu yanıtlayın. Metindeki sözcükleri kullanarak kısaca yanıt verin.",
           "Metin:", "Soru:"),
    "es": ("Lee el texto y responde a la pregunta. Responde brevemente con palabras del texto.",
           "Texto:", "Pregunta:"),
    "de": ("Lies den Text und beantworte die Frage. Antworte kurz mit Wörtern aus dem Text.",
           "Text:", "Frage:"),
}


def qa_instruction_and_input(context: str, question: str, lang: str) -> tuple[str, str]:
    """(instruction, input) for one QA example; ``lang`` is the question's language."""
    instruction, passage_label, question_label = QA_PROMPTS.get(lang, QA_PROMPTS["en"])
    sep = "" if passage_label.endswith("：") else " "  # no space after a full-width colon
    return instruction, f"{passage_label}{sep}{context}\n{question_label}{sep}{question}"
