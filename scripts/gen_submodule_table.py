"""Regenerate freezelint/check/submodule_table.py from the installed model libraries.

    python scripts/gen_submodule_table.py

Each model factory below is instantiated on the meta device (no weights, no memory), and its
`named_modules()` / `named_parameters()` are walked to record which attribute paths (up to
DEPTH dots) are Modules and which are Parameters. The checker reads the generated table and never
imports torch: `model.layer1.requires_grad = False` on a torchvision resnet is FZ102, while
`model.cls_token.requires_grad = False` on a timm ViT is a Parameter and stays silent.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "freezelint" / "check" / "submodule_table.py"
DEPTH = 2  # `features.0` and `layer1.0` yes, `layer1.0.conv1` no: deeper paths are rarely frozen by name
# A layer stack sits one level below a task model's backbone (`bert.encoder.layer`): "seqs" go one deeper.
SEQ_DEPTH = DEPTH + 1



def torchvision_models() -> list[str]:
    """Every classification model torchvision lists: a family's members differ in depth and width
    (`vgg13_bn().features` has other indices than `vgg16_bn()`'s), so none stands for another."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))
TIMM = [
    "vit_base_patch16_224", "vit_small_patch16_224", "vit_tiny_patch16_224", "deit_small_patch16_224",
    "resnet50", "resnet18", "efficientnet_b0", "convnext_tiny", "swin_tiny_patch4_window7_224",
    "mobilenetv3_large_100", "regnety_016",
    # CNNs with BatchNorm that fine-tuning scripts build by name (a frozen one trained in train mode
    # is FZ202 only where the table knows its BatchNorm layers)
    "resnet34", "resnet50d", "resnet101", "resnet152", "resnet200d", "resnext50_32x4d", "seresnext50_32x4d",
    "ecaresnet50d", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
    "tf_efficientnet_b0", "tf_efficientnet_b3", "tf_efficientnet_b4", "tf_efficientnet_b5",
    "tf_efficientnet_b7", "tf_efficientnetv2_s", "efficientnetv2_rw_s", "mobilenetv2_100",
    "mobilenetv3_small_100", "mobilenetv4_conv_small", "densenet121", "inception_v3", "xception41",
    "regnety_040", "rexnet_100", "cspdarknet53", "dla34", "hrnet_w18", "res2net50_26w_4s", "convnext_small",
    "convnext_base", "eva02_base_patch14_224", "beit_base_patch16_224",
]
TRANSFORMERS = {  # factory class -> config model type
    "BertModel": "bert", "BertForSequenceClassification": "bert", "ViTModel": "vit",
    "ViTForImageClassification": "vit", "GPT2Model": "gpt2", "GPT2LMHeadModel": "gpt2",
    "RobertaModel": "roberta", "CLIPModel": "clip",
}

# Auto classes: what `AutoModelFor*.from_pretrained(...)` returns depends on the checkpoint, so an
# Auto entry holds the paths that are Modules in the models below and a Parameter in none of them
# (`auto.bert`, `auto.classifier`), and the reverse; a path that is each in some is left out.
AUTO = ["AutoModel", "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
        "AutoModelForQuestionAnswering", "AutoModelForMaskedLM", "AutoModelForCausalLM",
        "AutoModelForSeq2SeqLM", "AutoModelForImageClassification"]
AUTO_TYPES = ["bert", "roberta", "distilbert", "deberta-v2", "albert", "electra", "xlm-roberta", "gpt2", "llama",
              "mistral", "qwen2", "gemma", "phi", "t5", "bart", "vit", "swin", "convnext", "clip", "whisper"]


def _auto(table: dict, auto_name: str) -> None:
    import transformers

    auto = getattr(transformers, auto_name)
    modules: set[str] = set()
    params: set[str] = set()
    seqs: set[str] = set()
    others: set[str] = set()  # paths that are no Sequential/ModuleList in some model
    for model_type in AUTO_TYPES:
        try:
            config = transformers.AutoConfig.for_model(model_type)
            if type(config) not in auto._model_mapping:
                continue
            model = auto.from_config(config)
            found = _paths(model)
        except Exception as e:  # noqa: BLE001 — a model that cannot be built on meta is left out
            print(f"skipped {auto_name} {model_type}: {type(e).__name__}: {str(e).splitlines()[0]}", file=sys.stderr)
            continue
        modules.update(found["modules"])
        params.update(found["params"])
        seqs.update(found["seqs"])
        others.update(n for n, m in model.named_modules() if n.count(".") < SEQ_DEPTH and not _is_seq(m))
        others.update(n for n, _ in model.named_parameters() if n.count(".") < SEQ_DEPTH)
    table[f"transformers.{auto_name}"] = {"modules": sorted(modules - params), "params": sorted(params - modules),
                                          "seqs": sorted(seqs - others)}


def _paths(model) -> dict[str, list[str]]:
    modules = sorted(n for n, _ in model.named_modules() if n and n.count(".") < DEPTH)
    params = sorted(n for n, _ in model.named_parameters() if n.count(".") < DEPTH)
    seqs = sorted(n for n, m in model.named_modules() if n and n.count(".") < SEQ_DEPTH and _is_seq(m))
    return {"modules": modules, "params": params, "seqs": seqs}


def _is_seq(m) -> bool:
    """An nn.Sequential or nn.ModuleList that indexes and iterates as they do: every item, slice
    and element of it is a Module (`model.transformer.h[0]`, `for block in vit.blocks[:-2]`)."""
    from torch import nn

    return any(isinstance(m, base) and type(m).__getitem__ is base.__getitem__ and type(m).__iter__ is base.__iter__
               for base in (nn.Sequential, nn.ModuleList))


def _batchnorm(model) -> list[str]:
    """Full paths of the layers whose running statistics move in train mode (BatchNorm and the
    other _NormBase layers that track them; InstanceNorm does not by default, LayerNorm has none),
    in model order: FZ202 evaluates a `named_parameters` loop's name test on `<path>.weight`."""
    from torch.nn.modules.batchnorm import _NormBase

    return [n for n, m in model.named_modules()
            if isinstance(m, _NormBase) and m.track_running_stats and getattr(m, "running_mean", None) is not None]


def _add(table: dict, key: str, build, ordered: bool = True) -> None:
    """`ordered`: built as a call with no arguments builds it, so its children come in that order
    (googlenet and inception_v3 are built without the AuxLogits child their default inserts)."""
    try:
        model = build()
        table[key] = {**_paths(model), "bn": _batchnorm(model)}
        if ordered:
            table[key]["children"] = [n for n, _ in model.named_children()]
    except Exception as e:  # a model whose constructor reads tensor values cannot be built on meta
        print(f"skipped {key}: {type(e).__name__}: {str(e).splitlines()[0]}", file=sys.stderr)


def main() -> None:
    import torch

    warnings.filterwarnings("ignore")
    table: dict[str, dict[str, list[str]]] = {}
    with torch.device("meta"):
        import torchvision

        for name in torchvision_models():
            kw = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
            _add(table, f"torchvision.models.{name}", lambda: getattr(torchvision.models, name)(weights=None, **kw),
                 ordered=not kw)
        import timm

        for name in TIMM:
            _add(table, f"timm.create_model:{name}", lambda: timm.create_model(name, pretrained=False))
        import transformers

        for cls_name, model_type in TRANSFORMERS.items():
            _add(table, f"transformers.{cls_name}",
                 lambda: getattr(transformers, cls_name)(transformers.AutoConfig.for_model(model_type)))
        for auto_name in AUTO:
            _auto(table, auto_name)
    # One JSON string per entry, decoded on first use: a file that builds one model pays for one
    # entry, not for unmarshalling every list of every model (~45 ms for 127 models, ~2 ms so).
    body = "\n".join(f"    {key!r}:\n        {json.dumps(entry, separators=(',', ':'))!r}," for key, entry in table.items())
    OUT.write_text(
        '"""Which attribute paths of known models are Modules and which are Parameters (generated).\n\n'
        "Generated by scripts/gen_submodule_table.py from torchvision "
        f"{torchvision.__version__}, timm {timm.__version__} and transformers {transformers.__version__}\n"
        "on the meta device; do not edit by hand. Keys: a factory's qualified name, or\n"
        '`timm.create_model:NAME`. Paths go DEPTH={DEPTH} attributes deep. "seqs": the Module paths, one\n'
        "attribute deeper, that are an nn.Sequential or nn.ModuleList (every item and slice of them is a\n"
        'Module; for an Auto class, one in every model class that has the path). "bn" (a factory, not an Auto\n'
        'class): the full path of every layer with running statistics (BatchNorm), in model order; "children"\n'
        "(the same): the names `model.children()` yields, in its order (a slice of them keeps the named ones).\n"
        "Each entry is kept as JSON text and decoded the first time it is read.\n\"\"\"\n\n"
        "from __future__ import annotations\n\n"
        "import json\n"
        "from collections.abc import Iterator, MutableMapping\n\n"
        f"DEPTH = {DEPTH}\n\n\n"
        "class _Table(MutableMapping):\n"
        "    def __init__(self, raw: dict[str, str]) -> None:\n"
        "        self._raw = raw\n"
        "        self._decoded: dict[str, dict[str, list[str]]] = {}\n\n"
        "    def __getitem__(self, key: str) -> dict[str, list[str]]:\n"
        "        entry = self._decoded.get(key)\n"
        "        if entry is None:\n"
        "            entry = self._decoded[key] = json.loads(self._raw[key])\n"
        "        return entry\n\n"
        "    def __setitem__(self, key: str, entry: dict[str, list[str]]) -> None:  # tests patch entries\n"
        "        self._raw.setdefault(key, '')\n"
        "        self._decoded[key] = entry\n\n"
        "    def __delitem__(self, key: str) -> None:\n"
        "        del self._raw[key]\n"
        "        self._decoded.pop(key, None)\n\n"
        "    def __contains__(self, key: object) -> bool:\n"
        "        return key in self._raw\n\n"
        "    def __iter__(self) -> Iterator[str]:\n"
        "        return iter(self._raw)\n\n"
        "    def __len__(self) -> int:\n"
        "        return len(self._raw)\n\n\n"
        f"TABLE: MutableMapping[str, dict[str, list[str]]] = _Table({{\n{body}\n}})\n".replace("DEPTH={DEPTH}", f"{DEPTH}")
    )
    print(f"wrote {OUT} ({len(table)} models)", file=sys.stderr)


if __name__ == "__main__":
    main()
