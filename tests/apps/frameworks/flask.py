
import flask
from flask import Flask, jsonify, request, url_for

app = Flask(__name__)

@app.route('/')
def index():
    return 'Hello from Flask %s' % flask.__version__ if hasattr(flask, '__version__') else 'Hello from Flask'

@app.route('/greet/<name>')
def greet(name):
    return jsonify(greeting='hello ' + name, q=request.args.get('q'),
                   url=url_for('greet', name=name), script_root=request.script_root)

@app.route('/form', methods=['POST'])
def form():
    return jsonify(sorted(request.form.items()))
