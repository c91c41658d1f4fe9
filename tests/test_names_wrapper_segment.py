"""A wrapper is told by its class (its own name or a base's, looked up once per class) and by the
instance (the child the wrapper names must be a module): the second is read for every module."""

import torch.nn as nn

from freezelint.runtime.names import Names, is_wrapper, unwrap


class DataParallel(nn.Module):  # named as torch's: a wrapper of `module`
    def __init__(self, module):
        super().__init__()
        self.module = module


class MyParallel(DataParallel):  # a subclass of a wrapper is one too
    pass


def test_wrapper_told_by_class_and_by_the_child_it_holds():
    inner = nn.Linear(2, 2)
    for _ in range(2):  # the second time from what the first learned of the class
        assert is_wrapper(MyParallel(inner)) and unwrap(MyParallel(inner)) == (inner, ["module"])
    empty = MyParallel(inner)
    empty.module = None  # same class, no module held: no wrapper
    assert not is_wrapper(empty)
    assert not is_wrapper(nn.Sequential(inner))


def test_names_leave_the_wrappers_segment_out():
    names = Names.of(list(MyParallel(nn.Sequential(nn.Linear(2, 2))).named_modules()))
    assert names.wrappers == {""} and names.display("module.0.weight") == "0.weight"
