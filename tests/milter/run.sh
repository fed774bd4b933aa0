#!/bin/sh
echo "miltertest: 0 passed, 0 failed"
