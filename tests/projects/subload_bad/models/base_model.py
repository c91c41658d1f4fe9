import logging

import torch
import torch.nn as nn


class BaseModel(nn.Module):
    def load_checkpoint(self, path):
        msg = self.load_state_dict(torch.load(path, map_location="cpu")["model"], strict=False)
        logging.info("missing keys: %s", msg.missing_keys)
        return msg

    def load_checkpoint_from_config(self, cfg):
        if cfg.get("load_finetuned", True):
            self.load_checkpoint(cfg["finetuned"])
        else:
            # each task's architecture defines its own load_from_pretrained()
            self.load_from_pretrained(url_or_filename=cfg["pretrained"])  # expect: FZ401
