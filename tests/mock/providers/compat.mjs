// An OpenAI-compatible server (Ollama, vLLM, ...) under /compat: the
// OpenAI dialect with their quirks (see openai.mjs). No API key.
import { makeHandler } from "./openai.mjs";

export const prefix = "/compat";
export const handle = makeHandler("compat", { key: "", quirks: true });
