#include "verify_internal.h"
void check_platforms(struct checks *k, const struct course *c) { (void)k; (void)c; }
