import '@jupyter/chat/style/index.js';
import './base.css';
import './tryit.css';
