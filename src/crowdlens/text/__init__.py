"""Text in photos: gate, OCR, personal information, redaction, reviewer previews.

Heavy parts (rapidocr, onnxruntime, presidio, spaCy, OpenCV) are imported
inside the functions that use them, so importing this package is cheap.
"""
