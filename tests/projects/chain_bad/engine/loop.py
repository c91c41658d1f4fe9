import logging

from .steps import train_one_epoch

log = logging.getLogger(__name__)


def run_epoch(model, loader, optimizer, epoch):
    log.info("epoch %d", epoch)
    loss = train_one_epoch(model, loader, optimizer)
    log.info("loss %.3f", loss)
    return loss
