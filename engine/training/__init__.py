"""LoRA fine-tuning (transformers + peft): config, data, and the loop. torch, transformers
and peft are imported inside functions only: the desktop app never pays for them."""
