"""The grader's kernel manager and client: ready without jupyter_client's idle waits, and still correct."""
import asyncio

import nbformat

from autograder.kernel import GradingExecute, PromptKernelClient, PromptKernelManager


def test_a_prompt_kernel_is_ready_answers_and_is_stopped():
    async def run():
        km = PromptKernelManager(kernel_name="python3")
        await km.start_kernel()
        client = km.client()
        assert isinstance(client, PromptKernelClient)
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            outputs = []
            reply = await client.execute_interactive("print(6 * 7)", timeout=60,
                                                     output_hook=lambda msg: outputs.append(msg))
            assert reply["content"]["status"] == "ok"
            assert [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"] == ["42\n"]
        finally:
            client.stop_channels()
            await km.shutdown_kernel(now=True)
        assert not await km.is_alive()

    asyncio.run(run())


def test_grading_runs_every_notebook_with_the_prompt_kernel_manager(tmp_path):
    execute = GradingExecute(timeout=60, kernel_name="python3")
    assert execute.kernel_manager_class is PromptKernelManager
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getpid() > 0)")]
    out, _ = execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert out.cells[0].outputs[0]["text"] == "True\n"


PYPLOT_STATE = ("import sys\n"
                "module = sys.modules.get('matplotlib.pyplot')\n"
                "print('absent' if module is None else type(module).__name__)")


def run_graded(cells, tmp_path, **kwargs):
    execute = GradingExecute(timeout=120, kernel_name="python3", **kwargs)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    out, _ = execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return out.cells


def test_a_graded_kernel_loads_pyplot_only_when_a_cell_uses_it(tmp_path):
    cells = run_graded(["import matplotlib.pyplot as plt\nimport numpy as np", PYPLOT_STATE,
                        "from helpers.plots import draw_sliding_windows, plot_layer_bars", PYPLOT_STATE,
                        "fig, ax = plt.subplots()\nlines = ax.plot([0, 1], [1, 0])", PYPLOT_STATE,
                        "import matplotlib.pyplot as again\nprint(again is plt)"], tmp_path)
    assert cells[1].outputs[0]["text"] == "_LazyModule\n"  # imported, not loaded
    assert cells[3].outputs[0]["text"] == "_LazyModule\n"  # the course's plotting helpers do not load it either
    assert [o["output_type"] for o in cells[4].outputs] == ["display_data"]  # the figure, drawn inline as always
    assert "image/png" in cells[4].outputs[0]["data"]
    assert cells[5].outputs[0]["text"] == "module\n"
    assert cells[6].outputs[0]["text"] == "True\n"


def test_a_graded_kernels_user_namespace_has_nothing_of_the_grader(tmp_path):
    names = "print(sorted(globals()))"
    assert run_graded([names], tmp_path)[0].outputs == run_graded([names], tmp_path, extra_arguments=[])[0].outputs
