import logging

import torch

from models.base_model import BaseModel


class Blip2Base(BaseModel):
    def load_from_pretrained(self, url_or_filename):
        state_dict = torch.load(url_or_filename, map_location="cpu")["model"]
        msg = self.load_state_dict(state_dict, strict=False)
        logging.info("Missing keys {}".format(msg.missing_keys))
        logging.info("load checkpoint from %s" % url_or_filename)
        return msg
