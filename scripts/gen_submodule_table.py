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
# A transformers task class wraps its backbone once more (`model.model.decoder.embed_tokens` of an
# MBart or Whisper, `model.model.language_model` of a Qwen2-VL): its paths go one attribute deeper,
# all but the parts of a layer stack's items (`model.layers.0`: items are known from "seqs").
HF_DEPTH = DEPTH + 1



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
    # task classes that fine-tuning code builds by name and freezes by part (`model.lm_head`,
    # `model.model`, `model.encoder`, `model.visual`); a class holds the same paths whatever its size
    "BertForMaskedLM": "bert", "BertForTokenClassification": "bert", "BertForQuestionAnswering": "bert",
    "BertLMHeadModel": "bert", "RobertaForSequenceClassification": "roberta", "RobertaForMaskedLM": "roberta",
    "DistilBertModel": "distilbert", "DistilBertForSequenceClassification": "distilbert",
    "DebertaV2Model": "deberta-v2", "DebertaV2ForSequenceClassification": "deberta-v2",
    "LlamaModel": "llama", "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2", "Gemma3ForCausalLM": "gemma3_text", "PhiForCausalLM": "phi",
    "Phi3ForCausalLM": "phi3", "OPTForCausalLM": "opt", "FalconForCausalLM": "falcon",
    "GPTNeoXForCausalLM": "gpt_neox", "BloomForCausalLM": "bloom",
    "T5Model": "t5", "T5ForConditionalGeneration": "t5", "T5EncoderModel": "t5",
    "BartForConditionalGeneration": "bart", "MBartForConditionalGeneration": "mbart",
    "WhisperModel": "whisper", "WhisperForConditionalGeneration": "whisper",
    "LlavaForConditionalGeneration": "llava", "LlavaNextForConditionalGeneration": "llava_next",
    "Qwen2VLForConditionalGeneration": "qwen2_vl", "Qwen2_5_VLForConditionalGeneration": "qwen2_5_vl",
    "Qwen3VLForConditionalGeneration": "qwen3_vl", "Qwen3VLMoeForConditionalGeneration": "qwen3_vl_moe",
    "Gemma3ForConditionalGeneration": "gemma3", "Blip2ForConditionalGeneration": "blip-2",
    "SiglipModel": "siglip", "SiglipVisionModel": "siglip_vision_model", "CLIPVisionModel": "clip_vision_model",
    "CLIPTextModel": "clip_text_model", "CLIPTextModelWithProjection": "clip_text_model",
    "CLIPVisionModelWithProjection": "clip_vision_model",
    "Wav2Vec2Model": "wav2vec2", "Wav2Vec2ForCTC": "wav2vec2", "HubertModel": "hubert", "WavLMModel": "wavlm",
    "SwinModel": "swin", "SwinForImageClassification": "swin", "ConvNextModel": "convnext",
    "ConvNextForImageClassification": "convnext", "Dinov2Model": "dinov2", "Dinov2ForImageClassification": "dinov2",
    # vision classes with BatchNorm (their modeling files build nn.BatchNorm2d; ConvNext and BiT use
    # LayerNorm / GroupNorm): frozen by requires_grad and trained in train mode, FZ202's whole-model case
    "ResNetModel": "resnet", "ResNetForImageClassification": "resnet", "ResNetBackbone": "resnet",
    "RegNetModel": "regnet", "RegNetForImageClassification": "regnet",
    "MobileNetV1Model": "mobilenet_v1", "MobileNetV1ForImageClassification": "mobilenet_v1",
    "MobileNetV2Model": "mobilenet_v2", "MobileNetV2ForImageClassification": "mobilenet_v2",
    "EfficientNetModel": "efficientnet", "EfficientNetForImageClassification": "efficientnet",
    "MobileViTModel": "mobilevit", "MobileViTForImageClassification": "mobilevit",
    "MobileViTV2Model": "mobilevitv2", "MobileViTV2ForImageClassification": "mobilevitv2",
    "LevitModel": "levit", "LevitForImageClassification": "levit", "CvtModel": "cvt",
    "CvtForImageClassification": "cvt", "SwiftFormerModel": "swiftformer",
    "SwiftFormerForImageClassification": "swiftformer", "HGNetV2ForImageClassification": "hgnet_v2",
    "UperNetForSemanticSegmentation": "upernet", "BitModel": "bit", "BitForImageClassification": "bit",
}

# Auto classes: what `AutoModelFor*.from_pretrained(...)` returns depends on the checkpoint, so an
# Auto entry holds the paths that are Modules in the models below and a Parameter in none of them
# (`auto.bert`, `auto.classifier`), and the reverse; a path that is each in some is left out.
AUTO = ["AutoModel", "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
        "AutoModelForQuestionAnswering", "AutoModelForMaskedLM", "AutoModelForCausalLM",
        "AutoModelForSeq2SeqLM", "AutoModelForImageClassification", "AutoModelForImageTextToText",
        "AutoModelForSpeechSeq2Seq", "AutoModelForCTC"]
AUTO_TYPES = ["bert", "roberta", "distilbert", "deberta-v2", "albert", "electra", "xlm-roberta", "gpt2", "llama",
              "mistral", "qwen2", "gemma", "phi", "t5", "bart", "vit", "swin", "convnext", "clip", "whisper",
              # the types of the task classes above that checkpoints load through an Auto class
              "qwen3", "gemma2", "gemma3_text", "phi3", "opt", "falcon", "gpt_neox", "bloom", "mbart", "dinov2",
              "siglip", "wav2vec2", "hubert", "wavlm", "llava", "llava_next", "qwen2_vl", "qwen2_5_vl", "qwen3_vl",
              "qwen3_vl_moe", "gemma3", "blip-2"]


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
            found = _paths(model, HF_DEPTH)
        except Exception as e:  # noqa: BLE001 — a model that cannot be built on meta is left out
            print(f"skipped {auto_name} {model_type}: {type(e).__name__}: {str(e).splitlines()[0]}", file=sys.stderr)
            continue
        modules.update(found["modules"])
        params.update(found["params"])
        seqs.update(found["seqs"])
        named, named_params = _named(model)
        others.update(n for n, m in named if n.count(".") <= HF_DEPTH and not _is_seq(m))
        others.update(n for n in named_params if n.count(".") <= HF_DEPTH)
    table[f"transformers.{auto_name}"] = {"modules": sorted(modules - params), "params": sorted(params - modules),
                                          "seqs": sorted(seqs - others)}


def _paths(model, depth: int = DEPTH) -> dict[str, list[str]]:
    named, named_params = _named(model)
    stacks = {n for n, m in named if _is_seq(m)}
    kept = [n for n, _ in named if n and n.count(".") < depth] + [n for n in named_params if n.count(".") < depth]
    kept = {n for n in kept if n.count(".") < DEPTH or not _in_item(n, stacks)}
    modules = sorted({n for n, _ in named if n in kept})
    params = sorted({n for n in named_params if n in kept})
    seqs = sorted({n for n in stacks if n and n.count(".") <= depth and (n.count(".") <= DEPTH or not _in_item(n, stacks))})
    return {"modules": modules, "params": params, "seqs": seqs}


def _in_item(path: str, stacks: set[str]) -> bool:
    """`model.layers.0` or `encoder.block.3.layer` below a layer stack `model.layers`: an item of it."""
    parts = path.split(".")
    return any(".".join(parts[:i]) in stacks and parts[i].isdigit() for i in range(1, len(parts)))


def _named(model) -> tuple[list, list[str]]:
    """`named_modules()` and the names of `named_parameters()`, each also under the name of every
    property of the model's class that returns one of its submodules: transformers' vision-language
    classes reach their parts so (`Qwen2_5_VLForConditionalGeneration.visual` is `model.model.visual`,
    Llava's `vision_tower`, every PreTrainedModel's `base_model`), and recipes freeze them by that name."""
    named = list(model.named_modules())
    params = [n for n, _ in model.named_parameters()]
    for alias, part in _module_properties(model):
        named += [(f"{alias}.{n}" if n else alias, m) for n, m in part.named_modules()]
        params += [f"{alias}.{n}" for n, _ in part.named_parameters()]
    return named, params


def _module_properties(model) -> list:
    """(name, submodule) for each public property of the model's class (not of nn.Module) whose value
    is a submodule of the model other than the model itself."""
    from torch import nn

    inside = {id(m) for m in model.modules()} - {id(model)}
    found = []
    for name in sorted({n for c in type(model).__mro__ if c is not nn.Module for n, v in vars(c).items()
                        if isinstance(v, property) and not n.startswith("_")}):
        try:
            value = getattr(model, name)
        except Exception:  # noqa: BLE001 — a property that needs what meta tensors lack is no part
            continue
        if isinstance(value, nn.Module) and id(value) in inside:
            found.append((name, value))
    return found


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


def _add(table: dict, key: str, build, ordered: bool = True, depth: int = DEPTH) -> None:
    """`ordered`: built as a call with no arguments builds it, so its children come in that order
    (googlenet and inception_v3 are built without the AuxLogits child their default inserts)."""
    try:
        model = build()
        table[key] = {**_paths(model, depth), "bn": _batchnorm(model)}
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
                 lambda: getattr(transformers, cls_name)(transformers.AutoConfig.for_model(model_type)), depth=HF_DEPTH)
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
        '`timm.create_model:NAME`. Paths go DEPTH={DEPTH} attributes deep ({HF_DEPTH} in a transformers class, but for\n'
        "the parts of a layer stack's items). \"seqs\": the Module paths, one\n"
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
        f"TABLE: MutableMapping[str, dict[str, list[str]]] = _Table({{\n{body}\n}})\n".replace("DEPTH={DEPTH}", f"{DEPTH}").replace("{HF_DEPTH}", f"{HF_DEPTH}")
    )
    print(f"wrote {OUT} ({len(table)} models)", file=sys.stderr)


if __name__ == "__main__":
    main()
