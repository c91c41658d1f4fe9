"""FZ111 peft-head-left-frozen: `get_peft_model` on a task model, its new head left frozen."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.events import (FREEZE, GET_PEFT_MODEL, KBIT_PREPARE, OPT_BUILD, PEFT, REBIND, UNFREEZE, peft_configs,
                                     requires_grad_sets, unwrap_self_returning)
from freezelint.check.facts import Facts, MethodCall, Scope
from freezelint.check.flow import Event, after, between, flows_of, rebound
from freezelint.check.rules.base import UNFREEZES, Example, Finding, Rule, code_of, src
from freezelint.check.syntax import call_arg, dotted, walk
from freezelint.check.traverse import children
from freezelint.peft_heads import TASK_HEAD, TASK_TYPE, head_name

# Prompt-learning configs train no copy of the model's modules either way: another matter.
_PROMPT_CONFIGS = frozenset({"PromptTuningConfig", "PrefixTuningConfig", "PromptEncoderConfig",
                             "MultitaskPromptTuningConfig", "AdaptionPromptConfig", "CPTConfig"})
_HEAD_WORDS = re.compile(r"classifier|score|qa_outputs|head|pooler|projector", re.I)
_UNFREEZE = re.compile(UNFREEZES)


class PeftHeadLeftFrozen(Rule):
    code = "FZ111"
    words = ("get_peft_model", "add_adapter", "inject_adapter_in_model")
    triggers = (r"get_peft_model\(", r"\.add_adapter\(", r"inject_adapter_in_model\(")
    # a task model (the head's case), or a requires_grad change by hand or peft's freeze before quantized
    # training (the order cases)
    requires = ((r"For(?:Sequence|Token|Image|Audio|Video)Classification|ForQuestionAnswering|ForMultipleChoice"
                 r"|requires_grad|prepare_model_for_(?:kbit|int8)_training"),)
    what = ("Finds `get_peft_model(model, config)` on a transformers task model (`...ForSequenceClassification`, "
            "`...ForTokenClassification`, `...ForQuestionAnswering`, `...ForImageClassification`, ...) with a "
            "config that sets neither `task_type` nor `modules_to_save`. Also finds a PEFT call (`get_peft_model`, "
            "`model.add_adapter(config)`, `inject_adapter_in_model`) in the wrong order against a requires_grad "
            "change by hand: a part of the model unfrozen before it, or the whole model unfrozen or frozen after it.")
    why = (
        "`get_peft_model` freezes every parameter of the model except the adapters it adds. A task model "
        "built from a pretrained body gets a new head (`classifier`, `score`, `qa_outputs`) initialised at "
        "random; only `task_type=\"SEQ_CLS\"` (`\"TOKEN_CLS\"`, `\"QUESTION_ANS\"`) or `modules_to_save` makes "
        "PEFT train a copy of it. Without either, the head stays at its random initialisation through the "
        "whole fine-tune: training runs, the adapters learn to feed a random projection, and the metrics "
        "stay near chance or well below what the model can reach. Nothing raises or warns. The same freeze "
        "(peft's `_mark_only_adapters_as_trainable`, which transformers' and diffusers' `add_adapter` reach "
        "through `inject_adapter_in_model`) undoes any unfreeze made before it on a model without adapters: "
        "blocks unfrozen by name and then wrapped stay frozen, and a requires_grad filter in front of the "
        "optimizer drops them. The other way round, `model.requires_grad_(True)` after `add_adapter` unfreezes "
        "every base weight PEFT froze: the LoRA run becomes a full fine-tune (memory, speed, and a model that "
        "drifts while only the adapter weights are saved). And `model.requires_grad_(False)` after it freezes the "
        "adapters PEFT has just made trainable along with the base: only what is unfrozen by hand afterwards "
        "trains (a LLaVA-style script that refreezes the model to train its projector trains no LoRA weight), "
        "and the adapters saved at the end are the initial ones."
    )
    notes = (
        "The model and the config must be built in the same function as the call or at module level, "
        "from `transformers` and `peft` classes: a config from a helper, `**kwargs`, a `task_type` or "
        "`modules_to_save` given in any form, a config attribute set later, `target_modules` that name "
        "the head (or are not a literal list), `inference_mode=True` or any unfreeze in the same body "
        "(`requires_grad = True` on the head) keep it silent. A checkpoint that already holds a trained "
        "head you mean to keep fixed is the one case where this is intended: say so with a noqa comment. "
        "Where the config does make PEFT train a copy of the head (the task's task_type, or modules_to_save "
        "naming it), a loop right after get_peft_model over the model's named_parameters() that keeps only "
        "names holding \"lora\" (`p.requires_grad = \"lora\" in n`, or an if/else on it) freezes that copy "
        "too: reported at the loop. "
        "The order cases read one body in order. Before the PEFT call: an unfreeze of a part of the model "
        "it is given (a submodule, or parameters picked by a test on their names, `p.requires_grad = "
        "name.startswith(\"head\")` included), with a peft `...Config(...)` built in the body that names no "
        "`modules_to_save` and unpacks nothing, no requires_grad set to anything but False after the call (on any "
        "object), no earlier PEFT call or adapter load on the model (peft keeps the trainability of a model "
        "that already holds adapters), and a local name (not `self.model`, which another method may unfreeze); "
        "an unfreeze of the whole model before it is a reset PEFT refines. After it: `requires_grad_(True)` "
        "(or a loop setting True) on all of the model given to PEFT or on the PeftModel it returned "
        "(`.base_model.model` too), with no freeze of it after, no optimizer built in between (FZ303's "
        "ground) and no comprehension after it picking `named_parameters()` by name (an optimizer over the "
        "adapters' weights only). A freeze after it, of all of the model given to PEFT or of the PeftModel "
        "(`.base_model`, `.model`, `.base_model.model`, or a loop over its `parameters()`; also where the model "
        "given is a call, `get_peft_model(AutoModel.from_pretrained(...), cfg)`), and peft's "
        "`prepare_model_for_kbit_training(model)` after it (it sets requires_grad=False on every parameter), is "
        "reported where "
        "nothing after it may make the adapters trainable again: a name test or value that is not a literal of "
        "other names (`if \"lora_\" in n`, `p.requires_grad = flag`), an unfreeze of a part whose path names an "
        "adapter or a `target_modules` entry, of all of the model, or of an object not traced to it, and a call "
        "named for adapters or trainability (`set_adapter`, `enable_adapters`, `mark_only_lora_as_trainable`; "
        "not `print_trainable_parameters`) keep it silent, as do a freeze of a part (`...vision_tower`), "
        "`merge_and_unload()` before it, a config with `inference_mode` and a freeze before the PEFT call "
        "(diffusers' order). A freeze under a flag the PEFT call is not under counts where a part is unfrozen by "
        "hand after it (the mistake is there whenever the flag is on: LLaVA's `if tune_mm_mlp_adapter:`), as the "
        "whole-model unfreeze does; with nothing unfrozen after it, the flag asks for a frozen model (`if not "
        "requires_grad:`, a reference model) and it is silent, as is one on a path that never meets the PEFT "
        "call (`if lora:` against `if not lora:`). `add_adapter` counts only with a peft config: AdapterHub's "
        "`add_adapter(\"name\")` is another API."
    )
    bad = [
        Example(
            """
            from peft import LoraConfig, get_peft_model
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
            config = LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"])
            model = get_peft_model(model, config)  # expect: FZ111
            """,
            instead="""
            from peft import LoraConfig, get_peft_model
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
            config = LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, target_modules=["query", "value"])
            model = get_peft_model(model, config)  # PEFT trains a copy of `classifier`
            """,
        ),
        Example(
            """
            import peft
            import transformers

            def create_peft_model(args):
                model = transformers.ViTForImageClassification.from_pretrained(args.model, num_labels=10)
                return peft.get_peft_model(  # expect: FZ111
                    model, peft.LoraConfig(r=16, target_modules=["query", "value"], lora_dropout=0.1))
            """,
            instead="""
            import peft
            import transformers

            def create_peft_model(args):
                model = transformers.ViTForImageClassification.from_pretrained(args.model, num_labels=10)
                return peft.get_peft_model(
                    model, peft.LoraConfig(r=16, target_modules=["query", "value"], lora_dropout=0.1,
                                           modules_to_save=["classifier"]))
            """,
        ),
        Example(
            """
            from peft import LoraConfig, get_peft_model
            from transformers import ViTForImageClassification

            base_model = ViTForImageClassification.from_pretrained("google/vit-base-patch16-224-in21k")
            lora_config = LoraConfig(init_lora_weights="gaussian", target_modules="all-linear")

            def lora_model():
                return get_peft_model(base_model, lora_config)  # expect: FZ111
            """
        ),
        Example(
            """
            from peft import IA3Config, get_peft_model
            from transformers import AutoModelForQuestionAnswering

            base = AutoModelForQuestionAnswering.from_pretrained("bert-base-uncased").to("cuda")
            qa = get_peft_model(base, IA3Config(target_modules=["key", "value"], feedforward_modules=[]))  # expect: FZ111
            """
        ),
        Example(
            """
            from peft import LoraConfig, TaskType, get_peft_model
            from transformers import BertForSequenceClassification

            bert = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
            config = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, target_modules=["query", "value"])
            model = get_peft_model(bert, config)
            for name, param in model.named_parameters():  # expect: FZ111
                if "lora" in name:
                    param.requires_grad = True
                else:
                    param.requires_grad = False
            """,
            instead="""
            from peft import LoraConfig, TaskType, get_peft_model
            from transformers import BertForSequenceClassification

            bert = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
            config = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, target_modules=["query", "value"])
            model = get_peft_model(bert, config)  # it freezes all but the adapters and the head's copy
            """,
        ),
        Example(
            """
            from peft import LoraConfig, get_peft_model
            from transformers import AutoModelForSequenceClassification

            base = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=2)
            model = get_peft_model(base, LoraConfig(modules_to_save=["classifier"], target_modules=["query"]))
            for n, p in model.named_parameters():  # expect: FZ111
                p.requires_grad = "lora_" in n
            """
        ),
        Example(
            """
            import torch
            from peft import LoraConfig, get_peft_model

            def build(model, args):
                for name, p in model.named_parameters():
                    if "visual.transformer.resblocks." in name and int(name.split(".")[3]) >= args.unlocked:
                        p.requires_grad = True
                config = LoraConfig(r=args.rank, target_modules=["qkv", "proj"])
                model = get_peft_model(model, config)  # expect: FZ111
                return model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
            """,
            instead="""
            import torch
            from peft import LoraConfig, get_peft_model

            def build(model, args):
                config = LoraConfig(r=args.rank, target_modules=["qkv", "proj"])
                model = get_peft_model(model, config)  # it freezes all but the adapters: unfreeze after it
                for name, p in model.named_parameters():
                    if "visual.transformer.resblocks." in name and int(name.split(".")[5]) >= args.unlocked:
                        p.requires_grad = True
                return model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
            """,
        ),
        Example(
            """
            import torch
            from peft import LoraConfig
            from transformers import CLIPTextModel

            text_encoder = CLIPTextModel.from_pretrained("openai/clip-vit-base-patch32")
            text_encoder.add_adapter(LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
            text_encoder.train()
            text_encoder.requires_grad_(True)  # expect: FZ111
            optimizer = torch.optim.AdamW(text_encoder.parameters(), lr=1e-4)
            """,
            instead="""
            import torch
            from peft import LoraConfig
            from transformers import CLIPTextModel

            text_encoder = CLIPTextModel.from_pretrained("openai/clip-vit-base-patch32")
            text_encoder.add_adapter(LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
            text_encoder.train()  # add_adapter left only the LoRA weights trainable
            optimizer = torch.optim.AdamW([p for p in text_encoder.parameters() if p.requires_grad], lr=1e-4)
            """,
        ),
        Example(
            """
            from peft import LoraConfig, get_peft_model
            from transformers import LlavaForConditionalGeneration

            model = LlavaForConditionalGeneration.from_pretrained("llava-hf/llava-1.5-7b-hf")
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
            model.requires_grad_(False)  # expect: FZ111
            for p in model.base_model.model.multi_modal_projector.parameters():
                p.requires_grad = True
            """,
            instead="""
            from peft import LoraConfig, get_peft_model
            from transformers import LlavaForConditionalGeneration

            model = LlavaForConditionalGeneration.from_pretrained("llava-hf/llava-1.5-7b-hf")
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
            for p in model.base_model.model.multi_modal_projector.parameters():
                p.requires_grad = True  # get_peft_model froze the rest, adapters aside
            """,
        ),
        Example(
            """
            import torch
            from peft import LoraConfig, get_peft_model
            from transformers import AutoModelForCausalLM

            def build(path):
                model = get_peft_model(AutoModelForCausalLM.from_pretrained(path), LoraConfig(target_modules=["q_proj"]))
                model.requires_grad_(False)  # expect: FZ111
                model.base_model.model.lm_head.requires_grad_(True)
                return model, torch.optim.AdamW(p for p in model.parameters() if p.requires_grad)
            """
        ),
        Example(
            """
            from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained("facebook/opt-350m", load_in_8bit=True)
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
            model = prepare_model_for_kbit_training(model)  # expect: FZ111
            """,
            instead="""
            from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained("facebook/opt-350m", load_in_8bit=True)
            model = prepare_model_for_kbit_training(model)  # freezes every weight first
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
            """,
        ),
    ]

    good = [
        """
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained("facebook/opt-350m", load_in_8bit=True)
        model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
        model = prepare_model_for_kbit_training(model)
        for name, param in model.named_parameters():  # the adapters made trainable again
            if "lora_" in name:
                param.requires_grad = True
        """,
        """
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM

        def build(path, ref_path):
            model = get_peft_model(AutoModelForCausalLM.from_pretrained(path), LoraConfig(target_modules=["q_proj"]))
            ref = prepare_model_for_kbit_training(AutoModelForCausalLM.from_pretrained(ref_path))  # another model
            model.base_model.model.lm_head.requires_grad_(False)  # a part, not the adapters
            return model, ref
        """,
        """
        from peft import LoraConfig, TaskType, get_peft_model
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8))
        """,
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
        model = get_peft_model(model, LoraConfig(r=8, target_modules=["query", "value", "classifier"]))
        """,
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
        model = get_peft_model(model, LoraConfig(r=8, target_modules=["query", "value"]))
        for p in model.base_model.model.classifier.parameters():
            p.requires_grad = True  # trained by hand
        """,
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained("gpt2")  # no new head: the LM head is pretrained
        model = get_peft_model(model, LoraConfig(r=8, target_modules=["c_attn"]))
        """,
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForSequenceClassification

        def build(model, cfg):
            return get_peft_model(model, LoraConfig(**cfg))  # neither is known here
        """,
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
        config = LoraConfig(r=8, target_modules=["query", "value"])
        config.modules_to_save = ["classifier"]
        model = get_peft_model(model, config)
        """,
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("./my-finetuned-classifier")
        model = get_peft_model(model, LoraConfig(r=8, target_modules=["query"], inference_mode=True))
        """,
        """
        from peft import LoraConfig, TaskType, get_peft_model
        from transformers import BertForSequenceClassification

        bert = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
        model = get_peft_model(bert, LoraConfig(task_type=TaskType.SEQ_CLS, r=8))
        for name, param in model.named_parameters():
            param.requires_grad = "lora" in name or "modules_to_save" in name  # the head's copy kept
        """,
        """
        from peft import LoraConfig, TaskType, get_peft_model
        from transformers import BertForSequenceClassification

        bert = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
        model = get_peft_model(bert, LoraConfig(task_type=TaskType.SEQ_CLS, r=8))
        for name, param in model.named_parameters():
            if "lora" in name:
                param.requires_grad = True  # only unfreezes: the head's copy stays as PEFT left it
        """,
        """
        from peft import LoraConfig, TaskType, get_peft_model
        from transformers import BertForSequenceClassification

        bert = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
        model = get_peft_model(bert, LoraConfig(task_type=TaskType.SEQ_CLS, r=8))
        for name, param in model.named_parameters():
            if "lora" not in name and "modules_to_save" not in name:
                param.requires_grad = False
        """,
        """
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, target_modules=["qkv"]))
        model.base_model.model.head.requires_grad_(True)  # unfrozen after the wrap: it stays trainable
        """,
        """
        from peft import LoraConfig, get_peft_model

        model.head.requires_grad_(True)
        model = get_peft_model(model, LoraConfig(r=8, target_modules=["qkv"], modules_to_save=["head"]))
        """,
        """
        from peft import LoraConfig

        unet.add_adapter(LoraConfig(r=4, target_modules=["to_q", "to_v"]))
        for n, p in unet.named_parameters():
            p.requires_grad = "lora" in n  # the adapters only, as add_adapter left them
        """,
        """
        from peft import LoraConfig

        text_encoder.add_adapter(LoraConfig(r=4, target_modules=["q_proj"]))
        for n, p in text_encoder.named_parameters():
            if "lora" in n:
                p.requires_grad_(True)
        text_encoder.text_model.embeddings.requires_grad_(True)  # a part meant to train besides them
        """,
        """
        from peft import LoraConfig

        if args.use_lora:
            unet.add_adapter(LoraConfig(r=4, target_modules=["to_q"]))
        else:
            unet.requires_grad_(True)  # the full fine-tune is the other arm
        """,
        # the unfreeze runs only where get_peft_model() did not: the two tests exclude each other
        """
        from peft import LoraConfig, get_peft_model

        def get_model(model, lora, requires_grad=True):
            if lora:
                model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear"))
            model.eval()
            if requires_grad and not lora:
                model.requires_grad_(True)
            elif not requires_grad:
                model.requires_grad_(False)
            return model
        """,
        # diffusers' training scripts: frozen first, then the adapter added (and left trainable)
        """
        from diffusers import UNet2DConditionModel
        from peft import LoraConfig

        unet = UNet2DConditionModel.from_pretrained("stabilityai/stable-diffusion-2-1", subfolder="unet")
        unet.requires_grad_(False)
        unet.add_adapter(LoraConfig(r=4, init_lora_weights="gaussian", target_modules=["to_k", "to_q", "to_v"]))
        """,
        """
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
        model.requires_grad_(False)
        for name, p in model.named_parameters():
            if "lora_" in name or "mm_projector" in name:
                p.requires_grad = True  # the adapters trainable again, with the projector
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        calls: list[MethodCall] = [c for c in (*facts.name_calls, *facts.method_calls)
                                   if c.method == "get_peft_model"]
        for c in calls:
            scope = c.ctx.scope
            if facts.qualname(c.call.func, scope) not in GET_PEFT_MODEL:
                continue
            found = _task_model(facts, call_arg(c.call, 0, "model"), scope, c.call)
            if found is None:
                continue
            task, cls = found
            config = _config_call(facts, call_arg(c.call, 1, "peft_config"), scope, c.call)
            if config is not None and _trains_head_copy(config, task):
                body = scope.node if scope.node is not None else module
                loop = _refreezing_loop(body, c.call, head_name(task))
                if loop is not None:
                    head = head_name(task)
                    yield self.finding(
                        loop.iter,
                        f"get_peft_model trains a copy of the head (`{head}.modules_to_save`, as the config's "
                        f"{'task_type' if _keyword(config, 'task_type') else 'modules_to_save'} asks), but this "
                        f"loop then freezes every parameter whose name lacks {_shown_names(loop)}, that copy "
                        f"included: the head stays at its random initialisation; keep it trainable "
                        f"(`... or \"modules_to_save\" in name`), or drop the loop (get_peft_model already froze "
                        f"the rest)",
                        ctx=c.ctx, facts=facts,
                    )
                continue
            if config is None or not _leaves_head_frozen(config):
                continue
            config_name = (facts.qualname(config.func, scope) or "").rpartition(".")[2]
            if _config_changed(facts, call_arg(c.call, 1, "peft_config"), scope):
                continue
            body = scope.node if scope.node is not None else module
            if _UNFREEZE.search(code_of(body)):
                continue  # the head (or something) is unfrozen by hand in the same body
            head = head_name(task)
            task_type = TASK_TYPE.get(task)
            fix = (f"pass `task_type=\"{task_type}\"` (PEFT then trains a copy of the head) or "
                   f"`modules_to_save=[\"{head}\"]`" if task_type else f"pass `modules_to_save=[\"{head}\"]`")
            yield self.finding(
                c.call,
                f"get_peft_model freezes every parameter but its adapters, and this {config_name} sets neither "
                f"task_type nor modules_to_save: the new head {cls} puts on the pretrained body (`{head}`) "
                f"stays frozen at its random initialisation; {fix}",
                ctx=c.ctx, facts=facts,
            )
        yield from self._order(facts, module)

    def _order(self, facts: Facts, module) -> Iterable[Finding]:
        """PEFT's freeze against a requires_grad change by hand in the same body: a partial unfreeze
        before it, which it undoes; a whole-model unfreeze after it, which undoes it."""
        shown: set[int] = set()  # an unfreeze after two PEFT calls: reported once
        for flow in flows_of(facts).bodies:
            evs = flow.events
            for p in (e for e in evs if e.kind == PEFT):
                undone = _undone_unfreeze(facts, flow, p)
                if undone is not None:
                    yield self.finding(
                        p.node,
                        f"{_peft_call(p)} sets requires_grad=False on every parameter of `{p.detail.get('sub')}` but "
                        f"the adapters' (on a model without adapters yet), so what was unfrozen by hand before it "
                        f"(`{_shown(undone.node)}`, line {_line(facts, undone.node)}) is frozen again and never "
                        f"trains; unfreeze it after this call, or name it in the config's `modules_to_save`",
                        stmt=p.stmt, facts=facts, used=[p, undone],
                    )
                for u in _full_unfreezes(facts, flow, p):
                    if id(u.node) in shown:
                        continue
                    shown.add(id(u.node))
                    yield self.finding(
                        u.node,
                        f"`{_shown(u.node)}` unfreezes every parameter of `{u.detail.get('sub') or u.target}` after "
                        f"{_peft_call(p)} (line {_line(facts, p.node)}) froze all but the adapters: the base weights "
                        f"train too, a full fine-tune instead of the adapter run; drop it (PEFT left the adapters "
                        f"trainable) or unfreeze only the parts meant to train",
                        stmt=u.stmt, facts=facts, used=[p, u],
                    )
                for f, kept in _whole_freezes(facts, flow, p):
                    if id(f.node) in shown:
                        continue
                    shown.add(id(f.node))
                    yield self.finding(f.node, _refrozen_message(facts, flow, p, f, kept),
                                       stmt=f.stmt, facts=facts, used=[p, f])


def _peft_call(p: Event) -> str:
    func = p.node.func
    return f"`{dotted(func) or 'add_adapter'}(...)`" if isinstance(func, cst.Attribute) else f"`{code_of(func)}(...)`"


def _shown(node: cst.CSTNode) -> str:
    text = " ".join(src(node).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _line(facts: Facts, node: cst.CSTNode) -> int:
    return flows_of(facts).positions[node].start.line


def _sets_true(e: Event, scope: Scope) -> bool:
    """The event makes some parameter trainable: an unfreeze, or `p.requires_grad = test(name)`
    (read as a freeze of the names that fail the test)."""
    if e.kind == UNFREEZE:
        return True
    return e.kind == FREEZE and bool(e.detail.get("picked")) and any(
        not (isinstance(v, cst.Name) and v.value == "False") for n in walk(e.node)
        for _, v, _ in requires_grad_sets(n, scope))


def _undone_unfreeze(facts: Facts, flow, p: Event) -> Event | None:
    """A partial unfreeze of the model `p` gives PEFT, before it in the body, with nothing made
    trainable after it: PEFT's freeze of a model without adapters undoes it."""
    evs, model = flow.events, p.detail.get("sub")
    if not model or "." in p.target or any(
            e.kind == PEFT and e.target == p.target and e is not p and after(e, p) for e in evs):
        return None  # `self.model`: another method may unfreeze it; a second adapter keeps what is trainable
    configs = peft_configs(facts, p.detail["config"], flow.scope)
    if not configs or any(_saves_or_unknown(c) for c in configs) or _config_changed(facts, p.detail["config"], flow.scope):
        return None  # modules_to_save may name the part (PEFT trains a copy of it)
    if any(_sets_true(e, flow.scope) and e is not p and after(p, e) for e in evs) or _later_unfreeze(flow, p):
        return None  # something is unfrozen after it
    if _adapters_before(flow, p):
        return None
    for u in evs:
        if u.index > p.index or not _sets_true(u, flow.scope) or u.target != p.target or after(p, u) or not after(u, p) \
                or rebound(flow, u, p) or _paths_apart(flow, p, u):
            continue
        sub = u.detail.get("sub") or u.target
        if not _part_of(sub, model) or sub == model and not u.detail.get("picked") and not u.detail.get("cut"):
            continue  # outside the model PEFT wraps, or all of it (a reset, which PEFT's freeze refines)
        if any(f.kind == FREEZE and f.target == p.target and u.index < f.index < p.index and after(u, f)
               and not f.detail.get("picked") and _part_of(sub, f.detail.get("sub") or f.target) for f in evs):
            continue  # frozen again before PEFT anyway
        return u
    return None


def _full_unfreezes(facts: Facts, flow, p: Event) -> list[Event]:
    """Unfreezes after `p` of all of the model it gave PEFT (`text_encoder.requires_grad_(True)`
    after `text_encoder.add_adapter(cfg)`, or of the PeftModel it returned), with no freeze after
    them, no optimizer built in between (FZ303's ground) and no optimizer over names picked by a
    test (`"lora" in n`) after them."""
    evs, model, wrapper = flow.events, p.detail.get("sub"), p.detail.get("name")
    if not (model or wrapper):
        return []
    names = {p.target, *([wrapper] if wrapper else [])}
    out = []
    for u in _on_whole(flow, p, UNFREEZE):
        if any(e.kind == FREEZE and e.target in names and e.index > u.index and after(u, e) for e in evs):
            continue  # frozen again after it (`if "lora" not in n: p.requires_grad = False`)
        if any(e.kind == OPT_BUILD and e.target in names and p.index < e.index < u.index for e in evs):
            continue  # the optimizer was built before it: FZ303's ground
        if _paths_apart(flow, p, u):
            continue  # `if lora: get_peft_model(...)` ... `if not lora: model.requires_grad_(True)`
        if _picks_by_name(flow, u, names):
            continue
        out.append(u)
    return out


def _wrapper_parts(wrapper: str | None) -> set[str]:
    """What names all of a PeftModel: itself, `.base_model`, `.model`, `.base_model.model`."""
    return {wrapper, f"{wrapper}.base_model", f"{wrapper}.model", f"{wrapper}.base_model.model"} if wrapper else set()


def _on_whole(flow, p: Event, kind: str) -> list[Event]:
    """Events of `kind` (a freeze, an unfreeze) after the PEFT call `p`, unconditional on a name test,
    on all of the model it gave PEFT (or a part holding it, under the same name, not rebound since),
    or on the PeftModel it returned (itself, `.base_model`, `.model`, `.base_model.model`)."""
    model, wrapper = p.detail.get("sub"), p.detail.get("name")
    parts = _wrapper_parts(wrapper)
    out = []
    for e in flow.events:
        if e.kind != kind or e.index < p.index or not after(p, e) or e.detail.get("picked") or e.detail.get("cut"):
            continue
        sub = e.detail.get("sub") or e.target
        if e.target == p.target and _part_of(model, sub) and not rebound(flow, p, e) \
                or wrapper and e.target == wrapper and sub in parts:
            out.append(e)
    return out


# Calls after which the adapters may train again: peft's and transformers'/diffusers' adapter
# switches set requires_grad=True on the active adapter (BaseTunerLayer.set_adapter), a new adapter
# is trainable, and a helper named for it (`mark_only_lora_as_trainable(model)`) may unfreeze them.
_REENABLES = re.compile(r"adapter|lora|trainable|unfreeze|requires_grad", re.I)
_NOT_REENABLES = re.compile(r"^(?:print|count|get|log|show|report|save|delete|disable|merge|unmerge|num)_"
                            r"|^(?:disable_adapters?|active_adapters?|merge_and_unload|unload|requires_grad_)$")  # the last: read below
# The adapters are gone (merged into the weights) or were never trainable.
_UNLOADS = frozenset({"merge_and_unload", "unload", "merge_adapter"})
_ADAPTER_WORDS = ("lora", "adapter", "ia3", "ln_tuning", "vera", "boft", "oft_", "loha", "lokr")


def _whole_freezes(facts: Facts, flow, p: Event) -> list[tuple[Event, tuple[cst.CSTNode, cst.CSTNode] | None]]:
    """Freezes after `p` of all of the model it gave PEFT, or of the PeftModel it returned
    (`.base_model`, `.model`, `.base_model.model`), which freeze the adapters PEFT just made trainable,
    with nothing after them that may make the adapters trainable again; each with the first part
    unfrozen by hand after it (what alone trains), if any. A freeze under a flag `p` is not under
    counts where a part is unfrozen after it (the mistake is there whenever the flag is on: LLaVA's
    `if tune_mm_mlp_adapter:`); with nothing unfrozen after it, the flag asks for a frozen model (`if
    not requires_grad:`, a reference model). One on a path that never meets `p` (`if lora:` against
    `if not lora:`) is silent."""
    model, wrapper = p.detail.get("sub"), p.detail.get("name")
    if not (model or wrapper) or _inference_config(facts, flow, p):
        return []
    out = []
    for f in _on_whole(flow, p, FREEZE):
        if any(e.kind == REBIND and e.target == f.target and e.stmt is not p.stmt for e in between(flow, p, f)):
            continue  # another model under the name (`model = build_teacher()`), not the PeftModel itself
        if _paths_apart(flow, p, f) or _unloaded_between(flow, p, f):
            continue
        back, kept = _adapters_back(facts, flow, p, f, {model, *_wrapper_parts(wrapper)} - {None})
        if back or kept is None and set(f.branches) - set(p.branches):
            continue  # under a flag of its own with nothing unfrozen after: a frozen model asked for
        out.append((f, kept))
    return out


def _inference_config(facts: Facts, flow, p: Event) -> bool:
    """A config with `inference_mode` set (to anything but False): PEFT itself leaves the adapters frozen."""
    return any(a.keyword is not None and a.keyword.value == "inference_mode"
               and not (isinstance(a.value, cst.Name) and a.value.value == "False")
               for c in peft_configs(facts, p.detail["config"], flow.scope) for a in c.args)


def _unloaded_between(flow, p: Event, f: Event) -> bool:
    """`model = model.merge_and_unload()` between the PEFT call and the freeze: no adapters left."""
    nodes = _nodes_after(flow, p)
    end = next((i for i, n in enumerate(nodes) if n is (f.stmt or f.node)), len(nodes))
    return any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value in _UNLOADS
               for n in nodes[:end])


def _adapters_back(facts: Facts, flow, p: Event, f: Event, whole: set[str]):
    """(whether something after the freeze `f` may make the adapters trainable again, the first
    requires_grad=True after it on a part that holds none: `(shown node, node)` or None)."""
    words = _adapter_words(facts, flow, p)
    parents = _parents(_body(flow))
    kept = None
    own = {id(n) for n in walk(f.stmt or f.node)}
    for n in _nodes_after(flow, f):
        if id(n) in own:
            continue  # the freeze itself
        if isinstance(n, cst.Call):
            name = n.func.attr.value if isinstance(n.func, cst.Attribute) else dotted(n.func) or ""
            name = name.rpartition(".")[2]
            if _REENABLES.search(name) and not _NOT_REENABLES.search(name):
                return True, None  # set_adapter, enable_adapters, add_adapter, mark_only_lora_as_trainable...
        for target, value, _ in requires_grad_sets(n, flow.scope):
            if isinstance(value, cst.Name) and value.value == "False":
                continue
            shown = _reaches_adapters(target, value, n, parents, whole, words)
            if shown is None:
                return True, None
            kept = kept or (shown, n)
    return False, kept


def _adapter_words(facts: Facts, flow, p: Event) -> tuple[str, ...]:
    """What names an adapter's parameters: the adapter prefixes, and the literal target_modules."""
    names = [e.value.evaluated_value for c in peft_configs(facts, p.detail["config"], flow.scope) for a in c.args
             if a.keyword is not None and a.keyword.value == "target_modules"
             and isinstance(a.value, (cst.List, cst.Tuple, cst.Set))
             for e in a.value.elements if isinstance(e.value, cst.SimpleString)]
    return (*_ADAPTER_WORDS, *(n.lower() for n in names if isinstance(n, str) and n))


def _reaches_adapters(target, value, node, parents: dict, whole: set[str], words) -> cst.CSTNode | None:
    """None where a requires_grad set after the freeze may reach the adapters: on all of the model,
    on a part or names that mention an adapter, on an object or under a test not read, or to a value
    not True. Else the part it does set (`model.get_model().mm_projector.parameters()`), which holds
    no adapter."""
    if not (isinstance(value, cst.Name) and value.value == "True"):
        if not _names_only(value, words):
            return None  # `p.requires_grad = flag`; `= "lora" in n` keeps the adapters
    var = target.value if isinstance(target, cst.Name) else None
    loop = _loop_over(node, var, parents) if var else None
    obj = loop.iter if loop is not None else target
    tests = [t for t in _tests_between(node, loop, parents)] if loop is not None else []
    path = _part_of_model(obj, whole)
    if path is None:
        return None  # another object (a list of parameters, a name bound elsewhere): it may hold them
    if any(w in path.lower() for w in words):
        return None
    if loop is not None and path in whole:
        if not tests and isinstance(value, cst.Name):
            return None  # every parameter of the model unfrozen again
        if not all(_names_only(t, words) for t in tests):
            return None
    return obj


def _names_only(test: cst.BaseExpression, words) -> bool:
    """A test (or value) that reads only literal names none of which is an adapter's
    (`"mm_projector" in n`): it picks parameters that are not the adapters."""
    strings = [s.evaluated_value for s in walk(test) if isinstance(s, cst.SimpleString)]
    return bool(strings) and all(isinstance(s, str) and not any(w in s.lower() for w in words) for s in strings)


def _part_of_model(obj: cst.BaseExpression, whole: set[str]) -> str | None:
    """The model (or a part of it) `obj` is: `model.base_model.model.lm_head.parameters()` ->
    "model.base_model.model.lm_head"; an index or a call on the way (`model.get_model().mm_projector`)
    is a step down to a part. None for anything not reached from the model, and for a call's result
    taken whole (`model.get_base_model()` is all of it)."""
    if isinstance(obj, cst.Call) and isinstance(obj.func, cst.Attribute) \
            and obj.func.attr.value in ("parameters", "named_parameters", "modules", "children"):
        obj = obj.func.value
    if isinstance(obj, cst.Call):
        return None
    parts = []
    while isinstance(obj, (cst.Call, cst.Subscript, cst.Attribute)):
        if isinstance(obj, cst.Call):
            obj = obj.func
        elif isinstance(obj, cst.Subscript):
            parts.append("[]")
            obj = obj.value
        else:
            parts.append(obj.attr.value)
            obj = obj.value
    if not isinstance(obj, cst.Name):
        return None
    path = ".".join([obj.value, *reversed(parts)])
    return path if any(_part_of(path, w) for w in whole) else None


def _parents(body: cst.CSTNode) -> dict[int, cst.CSTNode]:
    parents, stack = {}, [body]
    while stack:
        n = stack.pop()
        for c in children(n):
            parents[id(c)] = n
            stack.append(c)
    return parents


def _loop_over(node, var: str, parents: dict) -> cst.For | None:
    """The enclosing `for` whose target binds `var` (`for n, p in model.named_parameters()`)."""
    n = parents.get(id(node))
    while n is not None:
        if isinstance(n, cst.For) and var in {x.value for x in walk(n.target) if isinstance(x, cst.Name)}:
            return n
        n = parents.get(id(n))
    return None


def _tests_between(node, loop: cst.For, parents: dict) -> list[cst.BaseExpression]:
    """The tests of the `if`s (and `elif`s) around `node` inside `loop`."""
    tests, n = [], parents.get(id(node))
    while n is not None and n is not loop:
        if isinstance(n, cst.If):
            tests.append(n.test)
        n = parents.get(id(n))
    return tests


def _refrozen_message(facts: Facts, flow, p: Event, f: Event, kept) -> str:
    lora = any((facts.qualname(c.func, flow.scope) or "").endswith("LoraConfig")
               for c in peft_configs(facts, p.detail["config"], flow.scope))
    trains = (f"only what is unfrozen by hand after it can train (`{_shown(kept[0])}`, line {_line(facts, kept[1])})"
              if kept else "nothing of it trains, as nothing is unfrozen after it")
    again = '`p.requires_grad = True` where `"lora_" in name`' if lora else "`set_adapter(...)`"
    whole = f.detail.get("sub") or f.target
    if isinstance(f.node, cst.Call) and facts.qualname(f.node.func, flow.scope) in KBIT_PREPARE:
        return (f"`{_shown(f.node)}` after {_peft_call(p)} (line {_line(facts, p.node)}) sets requires_grad=False "
                f"on every parameter of `{whole}`, the {'LoRA ' if lora else ''}adapters it made trainable "
                f"included: {trains}; call it before {_peft_call(p)}, on the model without adapters, as peft "
                f"documents")
    return (f"`{_shown(f.node)}` after {_peft_call(p)} (line {_line(facts, p.node)}) freezes all of "
            f"`{whole}`, the {'LoRA ' if lora else ''}adapters it made trainable included: "
            f"{trains}; freeze before {_peft_call(p)} (it already freezes every base weight), or unfreeze the "
            f"adapters again after this line ({again})")


def _paths_apart(flow, a: Event, b: Event) -> bool:
    """`a` runs only where a test holds and `b` only where the same test fails (`if lora:` against
    `if ... and not lora:`, `if lora is False:` or the `else:` of another `if lora:`): no run meets both."""
    ifs = {id(n): n for n in walk(_body(flow)) if isinstance(n, cst.If)}
    held = _known_tests(a, ifs)
    return any(held.get(name) is (not truth) and _unchanged(flow, name) for name, truth in _known_tests(b, ifs).items())


def _known_tests(e: Event, ifs: dict) -> dict[str, bool]:
    """What the `if` arms around `e` establish: a name (`lora`, `args.lora`) to its truth."""
    known: dict[str, bool] = {}
    for if_id, arm in e.branches:
        node = ifs.get(if_id)
        if node is None:
            continue
        parts = _conjuncts(node.test) if arm == 0 else [_atom(node.test)]
        for part in parts:
            if part is not None:
                known[part[0]] = part[1] if arm == 0 else not part[1]
    return known


def _conjuncts(test: cst.BaseExpression) -> list[tuple[str, bool] | None]:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _conjuncts(test.left) + _conjuncts(test.right)
    return [_atom(test)]


def _atom(test: cst.BaseExpression) -> tuple[str, bool] | None:
    """`lora` -> (lora, True); `not lora`, `lora is False`, `lora == False` -> (lora, False)."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _atom(test.expression)
        return None if inner is None else (inner[0], not inner[1])
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        c = test.comparisons[0]
        if isinstance(c.operator, (cst.Is, cst.Equal)) and isinstance(c.comparator, cst.Name) \
                and c.comparator.value in ("True", "False"):
            inner = _atom(test.left)
            return None if inner is None else (inner[0], inner[1] == (c.comparator.value == "True"))
        return None
    name = dotted(test) if isinstance(test, (cst.Name, cst.Attribute)) else None
    return (name, True) if name and name not in ("True", "False") else None


def _unchanged(flow, name: str) -> bool:
    """The tested name is assigned nowhere in the body (a parameter, or an option read from args)."""
    return not any(isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and name in
                   {dotted(t) for t in _targets(n)} for n in walk(_body(flow)))


def _targets(n) -> list:
    if isinstance(n, cst.Assign):
        return [t.target for t in n.targets if isinstance(t.target, (cst.Name, cst.Attribute))]
    return [n.target] if isinstance(n.target, (cst.Name, cst.Attribute)) else []


def _part_of(part: str | None, whole: str | None) -> bool:
    return bool(part) and bool(whole) and (part == whole or part.startswith((whole + ".", whole + "[")))


def _saves_or_unknown(config: cst.Call) -> bool:
    """`modules_to_save=...`, or settings unpacked into it (`LoraConfig(**cfg)`)."""
    return any(a.star or a.keyword is not None and a.keyword.value == "modules_to_save" for a in config.args)


def _body(flow):
    return flow.scope.node if flow.scope.node is not None else flow.facts.module


def _nodes_after(flow, p: Event) -> list[cst.CSTNode]:
    """The body's nodes after the statement of `p`, in source order (nested bodies included)."""
    nodes = list(walk(_body(flow)))
    at = next((i for i, n in enumerate(nodes) if n is (p.stmt or p.node)), None)
    return [] if at is None else nodes[at + 1:]


def _later_unfreeze(flow, p: Event) -> bool:
    """A requires_grad change after `p` that may set True (on any object: one the events do not
    follow too)."""
    return any(not (isinstance(v, cst.Name) and v.value == "False")
               for n in _nodes_after(flow, p) for _, v, _ in requires_grad_sets(n, flow.scope))


def _adapters_before(flow, p: Event) -> bool:
    """The model may hold adapters already (`load_adapter`, `PeftModel.from_pretrained`): PEFT then
    keeps the trainability of what it had."""
    before = list(walk(_body(flow)))
    at = next((i for i, n in enumerate(before) if n is p.node), len(before))
    return any(isinstance(n, cst.Attribute) and n.attr.value in _LOADS_ADAPTERS
               or isinstance(n, cst.Name) and n.value.startswith("PeftModel") for n in before[:at])


_LOADS_ADAPTERS = frozenset({"load_adapter", "load_lora_weights", "set_adapter", "add_weighted_adapter",
                             "PeftModel", "PeftModelForCausalLM", "PeftModelForSequenceClassification"})


def _picks_by_name(flow, u: Event, names: set[str]) -> bool:
    """After `u`, a comprehension over `X.named_parameters()` (X the model) whose condition tests the
    parameter's name: the optimizer may take only the adapters' weights."""
    for n in _nodes_after(flow, u):
        if not isinstance(n, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            continue
        f = n.for_in
        it = f.iter
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) \
                and it.func.attr.value == "named_parameters" and dotted(it.func.value) \
                and dotted(it.func.value).split(".")[0] in names and f.ifs \
                and isinstance(f.target, cst.Tuple) and isinstance(f.target.elements[0].value, cst.Name):
            var = f.target.elements[0].value.value
            if any(isinstance(x, cst.Name) and x.value == var for c in f.ifs for x in walk(c.test)):
                return True
    return False


def _bound_call(facts: Facts, expr: cst.BaseExpression | None, scope: Scope, at: cst.Call) -> cst.Call | None:
    """The call `expr` is (through `.to(...)`-style chains), or the one call a name of this body is
    bound to besides the statement `at` sits in (`model = get_peft_model(model, ...)`)."""
    if expr is None:
        return None
    expr = unwrap_self_returning(expr)
    if isinstance(expr, cst.Call):
        return expr
    if not isinstance(expr, cst.Name):
        return None
    owner = scope.lookup(expr.value)
    if owner is None or (owner is not scope and owner.kind != "module"):
        return None  # an enclosing function's value: not followed
    bound = owner.bindings.get(expr.value, [])
    if any(b.how != "expr" for b in bound):
        return None  # a parameter, a loop variable, an import: not a call of this body
    values = [unwrap_self_returning(b.node) for b in bound if b.node is not at and not _contains(b.node, at)]
    if len(values) != 1 or not isinstance(values[0], cst.Call):
        return None
    return values[0]


def _contains(node, target: cst.CSTNode) -> bool:
    if not isinstance(node, cst.CSTNode):
        return False
    found = []

    class _Find(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            if n is target:
                found.append(n)
            return not found

    node.visit(_Find())
    return bool(found)


def _task_model(facts: Facts, expr, scope: Scope, at: cst.Call) -> tuple[str, str] | None:
    """("SequenceClassification", its class name) where `expr` is built by a transformers task class
    with a new head."""
    call = _bound_call(facts, expr, scope, at)
    if call is None:
        return None
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("from_pretrained", "from_config"):
        func = func.value
    qual = facts.qualname(func, scope) or ""
    if not qual.startswith("transformers."):
        return None
    cls = qual.rpartition(".")[2]
    m = TASK_HEAD.search(cls)
    return (m.group(1), cls) if m else None


def _config_call(facts: Facts, expr, scope: Scope, at: cst.Call) -> cst.Call | None:
    call = _bound_call(facts, expr, scope, at)
    if call is None:
        return None
    qual = facts.qualname(call.func, scope) or ""
    name = qual.rpartition(".")[2]
    if not qual.startswith("peft.") or not name.endswith("Config") or name in _PROMPT_CONFIGS or name == "PeftConfig":
        return None
    return call


def _keyword(call: cst.Call, key: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == key), None)


def _trains_head_copy(config: cst.Call, task: str) -> bool:
    """The config makes PEFT train a copy of the task's head: the task's task_type, or a literal
    modules_to_save that names the head."""
    task_type = _keyword(config, "task_type")
    if task_type is not None:
        return TASK_TYPE.get(task, "\0") in code_of(task_type.value)
    saved = _keyword(config, "modules_to_save")
    return saved is not None and isinstance(saved.value, (cst.List, cst.Tuple)) and any(
        isinstance(e.value, cst.SimpleString) and e.value.evaluated_value == head_name(task)
        for e in saved.value.elements)


def _refreezing_loop(body: cst.CSTNode, call: cst.Call, head: str) -> cst.For | None:
    """Among the body's own statements after `name = get_peft_model(...)` (before `name` is bound
    again): a loop over `name.named_parameters()` that leaves trainable only parameters whose name
    holds "lora" (`p.requires_grad = "lora" in n`; `if "lora" in n: ... True` / `else: ... False`;
    `if "lora" not in n: ... False`), which the head's copy (`classifier.modules_to_save.default.weight`)
    does not."""
    stmts = body.body.body if isinstance(body, cst.FunctionDef) else getattr(body, "body", [])
    at, name = None, None
    for i, st in enumerate(stmts):
        first = st.body[0] if isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1 else None
        if isinstance(first, cst.Assign) and first.value is call and len(first.targets) == 1 \
                and isinstance(first.targets[0].target, cst.Name):
            at, name = i, first.targets[0].target.value
    if at is None:
        return None
    for st in stmts[at + 1:]:
        if isinstance(st, cst.For) and isinstance(st.iter, cst.Call) and not st.iter.args \
                and isinstance(st.iter.func, cst.Attribute) and st.iter.func.attr.value == "named_parameters" \
                and isinstance(st.iter.func.value, cst.Name) and st.iter.func.value.value == name \
                and isinstance(st.target, cst.Tuple) and len(st.target.elements) == 2 \
                and all(isinstance(e.value, cst.Name) for e in st.target.elements):
            n, p = (e.value.value for e in st.target.elements)
            kept = _kept_names(st.body.body, n, p)
            if kept and all("lora" in k.lower() for k in kept) \
                    and not any(k in f"{head}.modules_to_save.default.weight" for k in kept):
                return st
        if any(isinstance(t, cst.Name) and t.value == name for t in _bound_names(st)):
            return None  # bound again: another model from here
    return None


def _bound_names(st: cst.CSTNode) -> list[cst.BaseExpression]:
    first = st.body[0] if isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1 else None
    return [t.target for t in first.targets] if isinstance(first, cst.Assign) else []


def _in_tests(test: cst.BaseExpression, n: str, negated: bool) -> list[str] | None:
    """The strings of `"a" in n or "b" in n` (`not in`, joined by `and`, when negated); None for any
    other test."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And if negated else cst.Or):
        left, right = _in_tests(test.left, n, negated), _in_tests(test.right, n, negated)
        return left + right if left is not None and right is not None else None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 \
            and isinstance(test.left, cst.SimpleString) and isinstance(test.comparisons[0].comparator, cst.Name) \
            and test.comparisons[0].comparator.value == n \
            and isinstance(test.comparisons[0].operator, cst.NotIn if negated else cst.In):
        value = test.left.evaluated_value
        return [value] if isinstance(value, str) else None
    return None


def _requires_grad_value(small: cst.BaseSmallStatement, p: str) -> cst.BaseExpression | None:
    """The value of `p.requires_grad = value` or `p.requires_grad_(value)`, else None."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and dotted(small.targets[0].target) == f"{p}.requires_grad":
        return small.value
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
            and dotted(small.value.func) == f"{p}.requires_grad_" and len(small.value.args) == 1:
        return small.value.args[0].value
    return None


def _sets(stmts, p: str) -> bool | None:
    """The value a block gives `p.requires_grad` (its one statement, a True/False literal), else None."""
    if len(stmts) != 1 or not isinstance(stmts[0], cst.SimpleStatementLine) or len(stmts[0].body) != 1:
        return None
    value = _requires_grad_value(stmts[0].body[0], p)
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return value.value == "True"
    return None


def _kept_names(body, n: str, p: str) -> list[str] | None:
    """What the loop body keeps trainable, as the strings a name must hold, where it sets every
    parameter's requires_grad from them; None for anything else."""
    if len(body) != 1:
        return None
    st = body[0]
    if isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1:
        value = _requires_grad_value(st.body[0], p)
        return _in_tests(value, n, False) if value is not None else None
    if isinstance(st, cst.If) and (st.orelse is None or isinstance(st.orelse, cst.Else)):
        then = _sets(st.body.body, p)
        other = _sets(st.orelse.body.body, p) if st.orelse is not None else None
        kept = _in_tests(st.test, n, False)
        if kept is not None and then is True and other is False:
            return kept
        dropped = _in_tests(st.test, n, True)
        if dropped is not None and then is False and other in (None, True):
            return dropped
    return None


def _shown_names(loop: cst.For) -> str:
    strings = sorted({s for node in walk(loop) if isinstance(node, cst.SimpleString)
                      and isinstance(s := node.evaluated_value, str)})
    return " or ".join(f'"{s}"' for s in strings) or "an adapter's name"


def _leaves_head_frozen(config: cst.Call) -> bool:
    """No task_type, no modules_to_save, no unpacked settings, not for inference, and no
    target_modules that may reach the head."""
    for arg in config.args:
        if arg.star or arg.keyword is None:
            return False
        key = arg.keyword.value
        if key in ("task_type", "modules_to_save"):
            return False
        if key == "inference_mode" and not (isinstance(arg.value, cst.Name) and arg.value.value == "False"):
            return False
        if key == "target_modules" and not _literal_names_miss_head(arg.value):
            return False
    return True


def _literal_names_miss_head(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.SimpleString) and value.evaluated_value == "all-linear":
        return True  # PEFT's "all-linear" leaves the output layer out
    if not isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        return False  # a variable, a regex string, "all-linear": it may reach the head
    for el in value.elements:
        if not isinstance(el.value, cst.SimpleString):
            return False
        if _HEAD_WORDS.search(el.value.evaluated_value or ""):
            return False
    return True


def _config_changed(facts: Facts, expr, scope: Scope) -> bool:
    """`config.modules_to_save = [...]` (or task_type) anywhere in the body."""
    name = dotted(expr) if expr is not None else None
    if name is None:
        return False
    return any(s.attr in ("modules_to_save", "task_type") and dotted(s.obj) == name and s.ctx.scope is scope
               for s in facts.attr_stores)
