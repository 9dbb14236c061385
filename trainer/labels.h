/* Attribute labels from a CSV file: a header row (the first column names the images, the
 * others are attribute names), then one row per image: the image's index in the data set or
 * its file name (the path relative to the PNG folder, or any path ending with it), and 0/1 or
 * -1/1 per attribute. Images without a row are unlabelled. */
#ifndef TRAINER_LABELS_H
#define TRAINER_LABELS_H

#include <stdbool.h>

#include "data.h"

typedef struct {
  int n_attrs;
  char **attrs;                 /* attribute names: direction names ([A-Za-z0-9_-]) */
  int n_images;
  signed char *values;          /* n_images * n_attrs: 1, 0, or -1 for unlabelled images */
} TrLabels;

DaeStatus tr_labels_load (const char *path, const TrImageSet * set, TrLabels ** out,
    DaeError * err);
void tr_labels_free (TrLabels * l);

bool tr_labels_has (const TrLabels * l, int image);
/* When every labelled image has exactly one attribute set (one-hot classes, e.g.
 * Fashion-MNIST), its class (0..n_attrs-1) for each image (-1: unlabelled) and true; when
 * there is a single attribute, its value as class 0/1; otherwise false. */
bool tr_labels_classes (const TrLabels * l, int *classes);

#endif
