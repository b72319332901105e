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
