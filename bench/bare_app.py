"""The yardstick: a bare Flask endpoint that answers 202 with a small JSON body, nothing else."""
import uuid

from flask import Flask, jsonify, request


def create_app():
    app = Flask(__name__)

    @app.post("/bare")
    def bare():
        request.get_json(silent=True)
        return jsonify(requestId=str(uuid.uuid4()), status="ACTIVE"), 202

    return app
