/*
 * One instantiation of every vector kernel template, for the parameters the includer defined (VEC,
 * IVEC, DVEC, LANES, TILE_ROWS, ISA_ATTR, SUFFIX; see vector-kernels.c), which are undefined again
 * afterwards so that the next instantiation can define its own.
 */
#include "few-rows-tile.h"
#include "pointwise-tile.h"
#undef VEC
#undef IVEC
#undef DVEC
#undef LANES
#undef TILE_ROWS
#undef ISA_ATTR
#undef SUFFIX
