"""Kernels for grading: nbgrader's Execute preprocessor with every kernel started in ``autograder.sandbox``."""
import os
import sys

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run inside ``python -m autograder.sandbox``."""

    hide = List(Unicode(), help="Paths the kernel must not see.").tag(config=True)
    keep = List(Unicode(), help="Paths inside hidden ones that stay visible.").tag(config=True)
    mem_mb = Integer(4096, help="Address-space limit of the kernel in MiB (0: none).").tag(config=True)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        keep = list(self.keep) + [os.path.abspath(self.connection_file)]
        wrapper = [sys.executable, "-m", "autograder.sandbox", "--mem-mb", str(self.mem_mb)]
        for path in self.hide:
            wrapper += ["--hide", path]
        for path in keep:
            wrapper += ["--keep", path]
        return wrapper + ["--"] + cmd


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, with every kernel started by SandboxKernelManager."""

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)
