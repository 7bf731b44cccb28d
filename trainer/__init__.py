"""Training side of TicketTriage: data prep, dual-BERT model, loop, evaluation, ONNX export.

torch and transformers are imported only inside this package.
"""
