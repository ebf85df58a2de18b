"""Review predictions: the image | ground truth | prediction triptych, the review queue, accepting a prediction."""
