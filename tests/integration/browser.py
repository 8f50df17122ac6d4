"""Headless Chromium (Debian's package) driven over the DevTools protocol: load a page, collect
what its console and runtime reported, evaluate an expression in it, take a screenshot."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed
# network refuses, many times a second.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1400,1800"]


class Page:
    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0
        self.events = []

    def send(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError("{0}: {1}".format(method, message["error"]))
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.socket.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(method)

    def problems(self):
        """Console errors and warnings, uncaught exceptions and failed loads, as text."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append("console.{0}: {1}".format(params["type"], json.dumps(params.get("args"))[:500]))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                found.append("log: " + params["entry"].get("text", ""))
            elif method == "Network.loadingFailed":
                found.append("load failed: " + params.get("errorText", ""))
        return found

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError("evaluate: {0}".format(result["exceptionDetails"]))
        return result["result"].get("value")

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))


class Browser:
    """`with Browser() as browser: page = browser.open(url)`."""

    def __init__(self, executable=None):
        self.executable = executable or shutil.which("chromium") or "/usr/bin/chromium"
        self.profile = tempfile.mkdtemp(prefix="adoptmesh-chromium-")
        self.process = None
        self.sockets = []

    def __enter__(self):
        self.process = subprocess.Popen([self.executable, "--user-data-dir=" + self.profile] + FLAGS + ["about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start (exit status {0})".format(self.process.poll()))
            time.sleep(0.1)
        self.port = int(open(port_file).read().split()[0])
        return self

    def open(self, url):
        request = urllib.request.Request("http://127.0.0.1:{0}/json/new?about:blank".format(self.port), method="PUT")
        target = json.load(urllib.request.urlopen(request, timeout=10))
        socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.sockets.append(socket)
        page = Page(socket)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(domain + ".enable")
        page.send("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        return page

    def __exit__(self, *exc):
        for socket in self.sockets:
            socket.close()
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
