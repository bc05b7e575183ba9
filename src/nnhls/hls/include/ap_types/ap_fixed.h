// Fixed-point types; everything lives in ap_int.h, this header exists for the vendor's spelling.
#ifndef NNHLS_AP_FIXED_H
#define NNHLS_AP_FIXED_H

#include "ap_int.h"

#endif  // NNHLS_AP_FIXED_H
