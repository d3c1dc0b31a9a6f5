"""CAMeL BERT NER: stock ``camel_tools.ner.NERecognizer`` vs Marsad's ``FastCamelRecognizer``.

Both run on the same randomly initialised BERT-base-size model (hidden 768, 12 layers, 12 heads,
intermediate 3072, a generated ~30k WordPiece vocabulary) written in CAMeL's model layout in a
temporary folder: speed does not depend on the weights, and the real model cannot be downloaded
here. Sentences: the first ANERcorp training sentences when ../shared is present, else generated
ones of news length. One process, one thread. The stock path pads every sentence to 256 subwords
(about 0.4 s a sentence here), so the comparison uses the first 40 sentences, stock and fast
alternating chunk by chunk; rates are per CPU second of this process (robust to a busy machine),
with wall-clock rates beside them. The fast one alone then tags all of them in one call.

    .venv/bin/python -m tests.bench.bert_speed [--sentences 200] [--stock-sentences 40]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from services.entities.bert_backend import LABELS, FastCamelRecognizer, StockCamelRecognizer

ROOT = Path(__file__).resolve().parents[2]
ANERCORP_TRAIN = ROOT.parent / "shared" / "corpus" / "anercorp" / "train.txt"

# Arabic letters as the BERT tokenizer sees them (it strips diacritics with do_lower_case).
ARABIC_LETTERS = list("ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي")
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCTUATION = list(".,،؛:؟!?()-\"'%/")
DIGITS = list("0123456789")
# Frequent news words and stems, so common words are one or two subwords as with a real vocabulary.
COMMON_PIECES = (
    "في من على إلى أن عن مع قال التي الذي هذا هذه وزير رئيس الرئيس الحكومة الدولة مصر السعودية "
    "العراق سوريا لبنان الأردن المغرب تونس الجزائر ليبيا قطر الكويت الإمارات عمان اليمن الرياض القاهرة "
    "بغداد دمشق بيروت عمان محمد أحمد علي عبد الله حسن خالد سعيد يوم أمس اليوم العام الماضي مجلس الأمن "
    "الأمم المتحدة الخارجية الداخلية الاقتصاد النفط الشركة البنك وكالة الأنباء ال و ب ل ف ك"
).split()
SUFFIX_PIECES = "##ة ##ات ##ون ##ين ##ها ##هم ##ه ##ي ##ية ##ا ##ت ##ن ##وا ##كم".split()
# Words for generated sentences when ANERcorp is absent.
SENTENCE_WORDS = (
    "أعلن وزير الخارجية السعودي الأمير فيصل بن فرحان في الرياض اليوم أن المملكة تدعم جهود الأمم "
    "المتحدة لإنهاء الأزمة في اليمن وقال رئيس مجلس الوزراء المصري مصطفى مدبولي إن الحكومة تعمل على "
    "خفض التضخم وزيادة الصادرات إلى أوروبا وأضاف المتحدث باسم شركة أرامكو أن إنتاج النفط ارتفع خلال "
    "الربع الثالث من العام الماضي بنسبة كبيرة بحسب وكالة الأنباء الفرنسية والبنك الدولي وصندوق النقد"
).split()


def write_vocab(path: Path, size: int, seed: int = 0) -> list[str]:
    """A WordPiece vocabulary: specials, punctuation, digits, letters and ##letters (so every
    Arabic word tokenizes), common words and suffixes, then random 2-4 letter pieces up to ``size``."""
    rng = random.Random(seed)
    entries: list[str] = []
    seen: set[str] = set()

    def add(piece: str) -> None:
        if piece not in seen:
            seen.add(piece)
            entries.append(piece)

    for piece in [*SPECIAL_TOKENS, *PUNCTUATION, *DIGITS, *ARABIC_LETTERS]:
        add(piece)
    for piece in [*ARABIC_LETTERS, *DIGITS]:
        add("##" + piece)
    for piece in [*COMMON_PIECES, *SUFFIX_PIECES]:
        add(piece)
    attempts = 0
    while len(entries) < size and attempts < size * 20:
        attempts += 1
        piece = "".join(rng.choice(ARABIC_LETTERS) for _ in range(rng.randint(2, 4)))
        add(piece if rng.random() < 0.5 else "##" + piece)
    path.write_text("\n".join(entries) + "\n", encoding="utf-8")
    return entries


def write_camel_model(
    folder: Path,
    *,
    vocab_size: int = 400,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    intermediate: int = 64,
    max_positions: int = 256,
    seed: int = 0,
    classifier_scale: float = 1.0,
) -> Path:
    """A randomly initialised BertForTokenClassification with CAMeL's nine labels, saved with its
    BertTokenizer the way the ner-arabert package lays its folder out (config.json, weights,
    vocab.txt, tokenizer files). ``classifier_scale`` spreads the logits so labels vary by token."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    entries = write_vocab(vocab_file, vocab_size, seed)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(entries),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_positions,
        pad_token_id=0,
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    )
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(classifier_scale)
    model.save_pretrained(folder)
    BertTokenizer(vocab=str(vocab_file)).save_pretrained(folder)
    return folder


def bench_sentences(count: int, seed: int = 0) -> tuple[list[list[str]], str]:
    """(sentences, where they come from): ANERcorp's first training sentences if present."""
    if ANERCORP_TRAIN.exists():
        sentences: list[list[str]] = []
        current: list[str] = []
        for line in ANERCORP_TRAIN.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if fields:
                current.append(fields[0])
            elif current:
                sentences.append(current)
                current = []
            if len(sentences) >= count:
                break
        if current and len(sentences) < count:
            sentences.append(current)
        return sentences[:count], f"first {min(count, len(sentences))} sentences of {ANERCORP_TRAIN}"
    rng = random.Random(seed)
    generated = [[*rng.choices(SENTENCE_WORDS, k=rng.randint(10, 55)), "."] for _ in range(count)]
    return generated, "generated sentences of 11-56 words"


Recognizer = FastCamelRecognizer | StockCamelRecognizer


def _timed(recognizer: Recognizer, sentences: list[list[str]]) -> tuple[float, float, list[list[str]]]:
    """(CPU seconds, wall seconds, labels). CPU time of this one-thread process is the work done,
    whatever else runs on the machine; wall time is shown beside it."""
    cpu, wall = time.process_time(), time.perf_counter()
    labels = recognizer.tag(sentences)
    return time.process_time() - cpu, time.perf_counter() - wall, labels


def run(sentences: int = 200, stock_sentences: int = 40, seed: int = 0, chunk: int = 10) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    data, origin = bench_sentences(sentences, seed)
    head = data[:stock_sentences]
    with tempfile.TemporaryDirectory(prefix="marsad-bert-bench-") as tmp:
        folder = write_camel_model(
            Path(tmp) / "arabert", vocab_size=30_000, hidden=768, layers=12, heads=12, intermediate=3072,
            max_positions=512, seed=seed,
        )
        stock = StockCamelRecognizer(folder)
        fast = FastCamelRecognizer(folder, num_threads=1)
        subwords = [sum(len(fast._word_ids(word)) for word in sentence) for sentence in data]
        print(f"sentences: {origin}; {sum(map(len, data)) / len(data):.1f} words, "
              f"{sum(subwords) / len(subwords):.1f} subwords a sentence (max {max(subwords)})")
        print("model: random BERT-base (768 hidden, 12 layers, 12 heads, 3072 intermediate, "
              f"{fast.model.config.vocab_size} vocab), 1 thread")
        for recognizer in (stock, fast):
            recognizer.tag(data[:2])  # warm-up: first-call allocations and kernel selection
        # Same sentences, alternating chunk by chunk, so both see the same machine load.
        stock_cpu = stock_wall = fast_cpu = fast_wall = 0.0
        stock_labels: list[list[str]] = []
        fast_labels: list[list[str]] = []
        for first in range(0, len(head), chunk):
            part = head[first : first + chunk]
            cpu, wall, labels = _timed(stock, part)
            stock_cpu, stock_wall = stock_cpu + cpu, stock_wall + wall
            stock_labels.extend(labels)
            cpu, wall, labels = _timed(fast, part)
            fast_cpu, fast_wall = fast_cpu + cpu, fast_wall + wall
            fast_labels.extend(labels)
        all_cpu, all_wall, _ = _timed(fast, data)
    agree = sum(a == b for a, b in zip(fast_labels, stock_labels, strict=True))
    figures = {
        "stock_sentences_per_cpu_s": len(head) / stock_cpu,
        "fast_sentences_per_cpu_s": len(head) / fast_cpu,
        "ratio_cpu": stock_cpu / fast_cpu,
        "ratio_wall": stock_wall / fast_wall,
        "fast_all_sentences_per_cpu_s": len(data) / all_cpu,
        "fast_all_sentences_per_wall_s": len(data) / all_wall,
        "identical_sentences": float(agree),
        "compared_sentences": float(len(head)),
    }
    print(f"on the first {len(head)} sentences (stock is slow), in chunks of {chunk}, stock and fast alternating:")
    print(f"  stock NERecognizer: {figures['stock_sentences_per_cpu_s']:7.2f} sentences per CPU second "
          f"({len(head) / stock_wall:.2f}/s wall)")
    print(f"  fast recognizer:    {figures['fast_sentences_per_cpu_s']:7.2f} sentences per CPU second "
          f"({len(head) / fast_wall:.2f}/s wall)")
    print(f"  ratio fast/stock:   {figures['ratio_cpu']:7.2f}x CPU time, {figures['ratio_wall']:.2f}x wall "
          "(target >= 3x)")
    print(f"  identical labels on {agree}/{len(head)} sentences")
    print(f"fast recognizer on all {len(data)} sentences in one call: "
          f"{figures['fast_all_sentences_per_cpu_s']:.2f} sentences per CPU second "
          f"({figures['fast_all_sentences_per_wall_s']:.2f}/s wall)")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=200, help="sentences the fast recognizer tags")
    parser.add_argument("--stock-sentences", type=int, default=40, help="of those, how many the stock one tags")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.sentences, args.stock_sentences)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
